"""DVC stage `model`: materialize the generator (GGUF -> HF folder) or check it exists.

The judge's and evaluate's models are checked here too, so a missing one stops `dvc repro`
at its first stage rather than when their engines start.
"""

from fcsynth.config import load_params
from fcsynth.metrics import StageMetrics
from fcsynth.model_store import check_later_models, materialize
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage


def main() -> None:
    cfg = load_params()
    metrics = StageMetrics("model")
    check_later_models(cfg, ROOT)
    metrics.extra.update(materialize(cfg.model, ROOT))
    metrics.extra["name"] = cfg.model.name
    metrics.write()


if __name__ == "__main__":
    run_stage("model", main)
