"""Model-based evaluations of a run beyond its logits: each an ``Attack`` (``base.py``) in ``ATTACKS``, enabled by
``eval.<name>.enabled`` and run by ``runner.run`` in one loop (``Attack.run`` of each), one file per attack:
U-LiRA (``ulira``, Hayes et al. 2024; ``ulira.py``), the NeurIPS 2023 challenge score (``challenge``;
``challenge.py``), relearning (``relearn.py``), representations (``representation.py``) and KLoM (``klom.py``);
``eval=deep`` enables the last three. ``common.py`` holds what the attacks that re-run models share: their seed
streams (``Stream``), ``derive_seed`` and ``unlearn_seeded``."""

from __future__ import annotations

from omegaconf import DictConfig

from unlearn_bench.attacks.base import Attack, AttackContext, AttackResult
from unlearn_bench.attacks.challenge import Challenge
from unlearn_bench.attacks.klom import KLoM
from unlearn_bench.attacks.relearn import Relearn
from unlearn_bench.attacks.representation import Representation
from unlearn_bench.attacks.ulira import ULiRA
from unlearn_bench.data.scenarios import Scenario
from unlearn_bench.errors import ConfigError

__all__ = ["ATTACKS", "Attack", "AttackContext", "AttackResult", "check_attacks", "enabled_attacks"]

# In the order they run (and their metrics appear in the record).
ATTACKS: dict[str, Attack] = {attack.name: attack for attack in (ULiRA(), Challenge(), Relearn(), Representation(),
                                                                 KLoM())}


def check_attacks(cfg: DictConfig, scenario: Scenario) -> None:
    """Every enabled attack's config; attacks that re-run the method from the original need a scenario without
    rounds."""
    for attack in enabled_attacks(cfg):
        attack.check(cfg)
        if attack.reruns_method and not scenario.reruns_method:
            raise ConfigError(f"eval.{attack.name} re-runs the method from the original; it is not defined for "
                              f"scenario kind {cfg.scenario.kind!r}")


def enabled_attacks(cfg: DictConfig) -> list[Attack]:
    return [attack for name, attack in ATTACKS.items() if cfg.eval[name].enabled]
