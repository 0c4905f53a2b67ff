"""One OpenAPI / Swagger operation -> a candidate tool: its parameters, request body and response schema."""

from __future__ import annotations

from typing import Any

from fcsynth.catalog.refs import DanglingRef, RefCycle, deref
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.schema import SchemaConverter
from fcsynth.catalog.source import Document
from fcsynth.catalog.trim import BODY_OPTIONAL_NOTE
from fcsynth.tools import Tool

IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
PARAM_LOCATIONS = frozenset({"path", "query", "header", "cookie", "body", "formData"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SWAGGER_PARAM_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf", "description",
)


class OperationReader:
    """The candidate tool of one OpenAPI operation.

    A tool's `parameters` is one object schema holding the operation's path-level and
    operation-level parameters (path, query, header, cookie; the `Accept`, `Content-Type` and
    `Authorization` headers are ignored, as the OpenAPI spec says, and so are parameters that
    carry an `apiKey` security scheme: credentials are not tool arguments) and its request body:
    JSON, `application/x-www-form-urlencoded` or `multipart/form-data` (Swagger `in: body` and
    `in: formData`). An object body whose property names do not clash with the parameters is
    flattened into the top level; any other body becomes one property named `body` (Swagger:
    the body parameter's name). The response schema comes from the first 2xx response with a
    JSON body.
    """

    def __init__(
        self, doc: Document, spec: dict[str, Any], toolkit: str, result: ImportResult, converter: SchemaConverter
    ) -> None:
        self.doc = doc
        self.toolkit = toolkit
        self.result = result
        self.swagger = "swagger" in spec and "openapi" not in spec
        self.converter = converter
        self.credentials = _api_key_params(spec)

    def operation(self, path: str, method: str, item: dict[str, Any], op: dict[str, Any], resolver: Any) -> Tool:
        properties: dict[str, Any] = {}
        required: list[str] = []
        body_schema: Any = None
        body_name = "body"
        body_required = False
        form: dict[str, Any] = {}
        form_required: list[str] = []
        label = f"{self.toolkit}/{method.upper()} {path}"
        form_names: list[str] = []
        for param in self.parameters(item, op, resolver, label):
            where = param.get("in")
            name = param.get("name")
            if not isinstance(name, str) or not name or where not in PARAM_LOCATIONS:
                self.result.flag("parameter_dropped", f"{label}: parameter {name!r} in {where!r} (needs a name and a valid `in`)")
                continue
            if (where == "header" and name.lower() in IGNORED_HEADERS) or (name.lower(), where) in self.credentials:
                continue
            if self.swagger and where == "body":
                body_schema = self.converter.convert(param.get("schema") or {}, "request", param["_resolver"])
                body_name, body_required = name, bool(param.get("required"))
                continue
            schema = self.param_schema(param)
            if self.swagger and where == "formData":
                form_names.append(name)
                form[name] = schema
                if param.get("required"):
                    form_required.append(name)
                continue
            key = name if name not in properties else f"{where}_{name}"
            properties[key] = schema
            if param.get("required") or where == "path":
                required.append(key)
        if form and body_schema is not None:
            # Swagger 2 forbids both; the JSON body is what the operation consumes.
            self.result.flag("body_and_formdata", f"{label}: formData parameters dropped ({', '.join(form_names)}); the body is kept")
        elif form:
            body_schema = {"type": "object", "properties": form, **({"required": form_required} if form_required else {})}
            body_required = bool(form_required)
        if not self.swagger and op.get("requestBody") is not None:
            body_schema, body_required = self.request_body(op["requestBody"], resolver)
        optional_body = False
        if body_schema is not None:
            optional_body = self.add_body(properties, required, body_schema, body_name, body_required)
        parameters: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            parameters["required"] = list(dict.fromkeys(required))
        description = _description(op, method, path)
        if optional_body:
            description = f"{description}\n\n{BODY_OPTIONAL_NOTE}"
        return Tool(
            toolkit=self.toolkit,
            name=str(op.get("operationId") or f"{method}_{path}"),
            description=description,
            parameters=parameters,
            response=self.response(op, resolver, f"{method.upper()} {path}"),
            source=self.doc.name,
            operation=f"{method.upper()} {path}",
        )

    def parameters(self, item: dict[str, Any], op: dict[str, Any], resolver: Any, label: str) -> list[dict[str, Any]]:
        """Path-level then operation-level parameters; the operation's override by (name, in)."""
        merged: dict[tuple[Any, Any], dict[str, Any]] = {}
        for params in (item.get("parameters"), op.get("parameters")):
            if params is not None and not isinstance(params, list):
                self.result.flag("parameter_dropped", f"{label}: `parameters` is a {type(params).__name__}, not a list")
                continue
            for raw in params or []:
                param, param_resolver = deref(raw, resolver)
                if isinstance(param, dict):
                    merged[(param.get("name"), param.get("in"))] = {**param, "_resolver": param_resolver}
                else:
                    self.result.flag("parameter_dropped", f"{label}: a parameter is a {type(param).__name__}, not a mapping")
        return list(merged.values())

    def param_schema(self, param: dict[str, Any]) -> Any:
        resolver = param["_resolver"]
        if self.swagger:
            raw = {k: param[k] for k in SWAGGER_PARAM_KEYS if k in param}
        elif isinstance(param.get("schema"), (dict, bool)):
            raw = param["schema"]
        elif isinstance(param.get("content"), dict) and param["content"]:
            media = next(iter(param["content"].values()))
            raw = media.get("schema", {}) if isinstance(media, dict) else {}
        else:
            raw = {"type": "string"}
        schema = self.converter.convert(raw, "request", resolver)
        if isinstance(schema, dict):
            extra = {}
            if isinstance(param.get("description"), str) and param["description"].strip():
                extra["description"] = param["description"].strip()
            if "example" in param and "examples" not in schema:
                extra["examples"] = [param["example"]]
            if param.get("deprecated") is True:
                extra["deprecated"] = True
            schema = {**schema, **extra}
        return schema

    def request_body(self, raw: Any, resolver: Any) -> tuple[Any, bool]:
        body, body_resolver = deref(raw, resolver)
        if not isinstance(body, dict):
            return None, False
        media = _pick_media(body.get("content"), request=True)
        if media is None:
            return None, False
        schema = media.get("schema") if isinstance(media.get("schema"), (dict, bool)) else {}
        converted = self.converter.convert(schema, "request", body_resolver)
        if isinstance(converted, dict) and isinstance(body.get("description"), str) and "description" not in converted:
            converted = {**converted, "description": body["description"].strip()}
        return converted, bool(body.get("required"))

    @staticmethod
    def add_body(properties: dict[str, Any], required: list[str], body: Any, name: str, body_required: bool) -> bool:
        """Add the request body (flattened or as one property); True when an optional
        body's fields are marked required (the tool description must say so)."""
        flat = (
            isinstance(body, dict)
            and isinstance(body.get("properties"), dict)
            and body.get("type", "object") == "object"
            and not ({"oneOf", "anyOf", "allOf", "not", "if"} & body.keys())
            and not (properties.keys() & body["properties"].keys())
        )
        if flat:
            properties.update(body["properties"])
            # The schema's `required` holds whether or not the requestBody says `required: true`
            # (generators often omit it); an optional body gets a note in the description.
            body_fields = [r for r in body.get("required", []) if r in body["properties"]]
            required.extend(body_fields)
            return bool(body_fields) and not body_required
        while name in properties:
            name = f"{name}_"
        properties[name] = body
        if body_required:
            required.append(name)
        return False

    def response(self, op: dict[str, Any], resolver: Any, label: str) -> Any:
        responses = op.get("responses")
        if not isinstance(responses, dict):
            return None
        codes = sorted((str(c) for c in responses if str(c).startswith("2")), key=lambda c: (c.upper() == "2XX", c))
        try:
            for code in codes:
                resp, resp_resolver = deref(responses.get(code, responses.get(_int(code))), resolver)
                if not isinstance(resp, dict):
                    continue
                if self.swagger:
                    schema = resp.get("schema")
                else:
                    media = _pick_media(resp.get("content"), request=False)
                    schema = media.get("schema") if media is not None else None
                if isinstance(schema, (dict, bool)):
                    return self.converter.convert(schema, "response", resp_resolver)
        except (DanglingRef, RefCycle) as err:
            self.result.flag("dangling_ref_response_dropped", f"{self.toolkit}/{label}: {err}")
        return None


def _api_key_params(spec: dict[str, Any]) -> set[tuple[str, Any]]:
    """(name, in) of parameters that carry an API key (`apiKey` security schemes)."""
    components = spec.get("components") if isinstance(spec.get("components"), dict) else {}
    schemes = spec.get("securityDefinitions") or components.get("securitySchemes") or {}
    return {
        (str(s.get("name", "")).lower(), s.get("in"))
        for s in (schemes.values() if isinstance(schemes, dict) else [])
        if isinstance(s, dict) and s.get("type") == "apiKey"
    }


def _int(code: str) -> Any:
    return int(code) if code.isdigit() else code


def _pick_media(content: Any, request: bool) -> dict[str, Any] | None:
    """The media type object to use: JSON first, then (requests only) form bodies."""
    if not isinstance(content, dict) or not content:
        return None
    types = {str(k).split(";")[0].strip().lower(): v for k, v in content.items() if isinstance(v, dict)}
    for mtype, media in types.items():
        if mtype == "application/json" or mtype.endswith("+json") or mtype.endswith("/json"):
            return media
    if request:
        for form_type in FORM_TYPES:
            if form_type in types:
                return types[form_type]
        return next(iter(types.values()), None)
    return types.get("*/*")


def _description(op: dict[str, Any], method: str, path: str) -> str:
    summary = op.get("summary").strip() if isinstance(op.get("summary"), str) else ""
    description = op.get("description").strip() if isinstance(op.get("description"), str) else ""
    if summary and description and not description.startswith(summary.rstrip(".")):
        return f"{summary}\n\n{description}"
    return description or summary or f"{method.upper()} {path}"
