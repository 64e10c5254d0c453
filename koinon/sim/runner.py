"""The experiment: for every seed, one honest world; on it every attack strategy; every log settled
by every scheme; then, per scheme, the attackers' best strategy, with confidence intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from koinon.rewards.params import DEFAULT_PARAMS
from koinon.sim.attacks import Plan, assemble, mixed
from koinon.sim.history import earlier_worlds, with_history
from koinon.sim.hive import settle_hive
from koinon.sim.koinon_scheme import settle_koinon
from koinon.sim.log import ATTACKER, SYBIL, EventLog, FloatArray
from koinon.sim.metrics import FIGURES, Estimate, Figures, estimate, measure
from koinon.sim.schemes import Rewards
from koinon.sim.steem import settle_steem
from koinon.sim.strategies import NEEDS_FAKES, STRATEGIES
from koinon.sim.world import WorldConfig, generate_world

SCHEMES: dict[str, Callable[[EventLog], Rewards]] = {
    "koinon": settle_koinon,
    "hive": settle_hive,
    "steem": settle_steem,
}


@dataclass(frozen=True)
class SimConfig:
    """What to simulate."""

    seeds: int = 10
    world: WorldConfig = field(default_factory=WorldConfig)
    fakes: tuple[int, ...] = (10, 100, 1000)  # sybil farm sizes available to the attackers
    mixed_fakes: int = 100  # the sybil farm in the one log with every kind of attacker
    vote_price: float = 0.5  # share of what bought votes earn the buyer that the sellers charge
    # earlier epochs drawn for Koinon's ring detector, which reads this many besides the current
    earlier_epochs: int = DEFAULT_PARAMS.ring_epochs - 1


@dataclass(frozen=True)
class Cell:
    """Figures over seeds for one scheme, scenario and strategy."""

    strategy: str
    figures: dict[str, Estimate]
    per_seed: dict[str, list[float]]


@dataclass(frozen=True)
class Outcome:
    """Everything measured: per scheme, per scenario, the attackers' best strategy's figures,
    and every strategy's attacker share (so the choice can be checked)."""

    config: SimConfig
    best: dict[str, dict[str, Cell]]  # scheme -> scenario -> cell
    strategies: dict[str, dict[str, dict[str, Estimate]]]  # scheme -> scenario -> strategy -> share


def scenarios(config: SimConfig) -> list[str]:
    """Scenario names in report order."""
    return ["honest", "mixed", *[f"adaptive_fakes_{f}" for f in config.fakes]]


def units(config: SimConfig) -> int:
    """Progress units: one per settled log."""
    plain = sum(1 for name in STRATEGIES if name not in NEEDS_FAKES)
    per_seed = plain + len(NEEDS_FAKES) * len(config.fakes) + 1
    return config.seeds * per_seed * len(SCHEMES)


def _transfers(
    log: EventLog, with_votes: Rewards, settle: Callable[[EventLog], Rewards], price: float
) -> FloatArray:
    """Payments for bought votes: attackers pay `price` times what the votes earned them, split
    among the sellers by votes sold."""
    attacker = (log.role == ATTACKER) | (log.role == SYBIL)
    without = settle(log.without_bought_votes())
    gain = float(with_votes.account[attacker].sum() - without.account[attacker].sum())
    transfers = np.zeros(log.n_accounts, dtype=np.float64)
    if gain <= 0.0:
        return transfers
    paid = price * gain
    earned = with_votes.account * attacker
    transfers -= paid * earned / float(earned.sum())
    sold = np.bincount(log.vote_voter[log.vote_bought], minlength=log.n_accounts)
    transfers += paid * sold / float(sold.sum())
    return transfers


def settle_all(log: EventLog, config: SimConfig, advance: Callable[[], None]) -> dict[str, Figures]:
    """Settle one log by every scheme and measure it, net of vote-buying payments."""
    out: dict[str, Figures] = {}
    for name, settle in SCHEMES.items():
        rewards = settle(log)
        transfers = None
        if log.vote_bought.any():
            transfers = _transfers(log, rewards, settle, config.vote_price)
        out[name] = measure(log, rewards, transfers)
        advance()
    return out


def run_seed(
    config: SimConfig, seed: int, advance: Callable[[], None]
) -> dict[tuple[str, str], dict[str, Figures]]:
    """All logs of one seed: (scenario or fake count, strategy) -> scheme -> figures."""
    world = generate_world(config.world, np.random.default_rng([seed, 0]))
    earlier = earlier_worlds(world, config.earlier_epochs, seed)
    results: dict[tuple[str, str], dict[str, Figures]] = {}
    for index, (name, strategy) in enumerate(STRATEGIES.items()):
        sizes = config.fakes if name in NEEDS_FAKES else (0,)
        for fakes in sizes:
            rng = np.random.default_rng([seed, 1, index, fakes])
            plan: Plan = strategy(world, fakes, rng)
            log = with_history(assemble(world, plan), earlier, strategy, fakes, seed, index)
            results[(str(fakes), name)] = settle_all(log, config, advance)
    plan = mixed(world, config.mixed_fakes, np.random.default_rng([seed, 2]))
    log = with_history(
        assemble(world, plan), earlier, mixed, config.mixed_fakes, seed, len(STRATEGIES)
    )
    results[("mixed", "mixed")] = settle_all(log, config, advance)
    return results


def _cell(strategy: str, runs: list[Figures]) -> Cell:
    per_seed = {name: [getattr(run, name) for run in runs] for name in FIGURES}
    return Cell(
        strategy=strategy,
        figures={name: estimate(values) for name, values in per_seed.items()},
        per_seed=per_seed,
    )


def run(config: SimConfig, advance: Callable[[], None] = lambda: None) -> Outcome:
    """The whole experiment."""
    by_seed = [run_seed(config, seed, advance) for seed in range(config.seeds)]
    best: dict[str, dict[str, Cell]] = {}
    shares: dict[str, dict[str, dict[str, Estimate]]] = {}
    for scheme in SCHEMES:
        best[scheme], shares[scheme] = {}, {}

        def runs(key: tuple[str, str], scheme: str = scheme) -> list[Figures]:
            return [seed_results[key][scheme] for seed_results in by_seed]

        best[scheme]["honest"] = _cell("honest", runs(("0", "honest")))
        best[scheme]["mixed"] = _cell("mixed", runs(("mixed", "mixed")))
        for fakes in config.fakes:
            scenario = f"adaptive_fakes_{fakes}"
            options = {
                name: runs((str(fakes) if name in NEEDS_FAKES else "0", name))
                for name in STRATEGIES
            }
            means = {
                name: estimate([r.attacker_reward_share for r in results])
                for name, results in options.items()
            }
            # attackers pick what pays best on average: they cannot see a seed's luck in advance
            chosen = max(means, key=lambda name: (means[name].mean, name))
            best[scheme][scenario] = _cell(chosen, options[chosen])
            shares[scheme][scenario] = means
    return Outcome(config=config, best=best, strategies=shares)
