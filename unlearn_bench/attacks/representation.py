"""``representation`` (Kim, Cha, Kim, "Are We Truly Forgetting? A Critical Re-examination of Machine Unlearning
Evaluation Protocols", Engineering Applications of Artificial Intelligence, 2026): linear CKA of the penultimate
features with Retrain's on D_f (``CKA_f``) and on the test split (``CKA_test``); ``kNN_f``, the accuracy (%) on D_f
of a k-NN probe (cosine distance) fitted on the model's own features of D_r with their labels. The paper probes
transfer to downstream data; this probe asks the same of D_f. In a class-wise scenario D_r holds no example of the
forgotten class, so the probe cannot predict it and ``kNN_f`` is 0 for every model."""

from __future__ import annotations

from omegaconf import DictConfig

from unlearn_bench.attacks.base import Attack, AttackContext, Scores
from unlearn_bench.attacks.common import at_least
from unlearn_bench.evaluation import predict
from unlearn_bench.metrics.representation import knn_probe_accuracy, linear_cka


class Representation(Attack):
    name, cost_key = "representation", "Representation_s"

    def check(self, cfg: DictConfig) -> None:
        at_least(cfg, "eval.representation.knn_k", 1)

    def score(self, ctx: AttackContext, role: str, references: dict[str, Scores]) -> Scores:
        task, amp = ctx.task, bool(ctx.cfg.train.amp)
        feats = {split: predict(ctx.model(role), task.split(split)[0], ctx.batch_size, amp, features=True)[1]
                 for split in ("forget", "retain", "test")}
        retrain_feats = feats if role == "retrain" else {s: references["retrain"][1][f"features_{s}"]
                                                         for s in ("forget", "test")}
        metrics = {"CKA_f": linear_cka(feats["forget"], retrain_feats["forget"]),
                   "CKA_test": linear_cka(feats["test"], retrain_feats["test"]),
                   "kNN_f": knn_probe_accuracy(feats["retain"], task.split("retain")[1].cpu().numpy(),
                                               feats["forget"], task.split("forget")[1].cpu().numpy(),
                                               int(ctx.cfg.eval.representation.knn_k))}
        # Retrain's features are kept (in the reference cache only) for the other models' CKA.
        return metrics, ({f"features_{s}": feats[s] for s in ("forget", "test")} if role == "retrain" else {})
