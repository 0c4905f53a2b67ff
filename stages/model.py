"""DVC stage `model`: materialize the generator (GGUF -> HF folder) or check it exists."""

from fcsynth.config import load_params
from fcsynth.metrics import StageMetrics
from fcsynth.model_store import materialize
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage


def main() -> None:
    cfg = load_params()
    metrics = StageMetrics("model")
    metrics.extra.update(materialize(cfg.model, ROOT))
    metrics.extra["name"] = cfg.model.name
    metrics.write()


if __name__ == "__main__":
    run_stage("model", main)
