"""Judge of the sixth planted world (a game studio's build, release and live-ops desk).

Generates episodes with :mod:`benchmarks.planted_sixth`, feeds them in time order to
``PatternLearner("default")`` (through :mod:`benchmarks.planted_report`), and judges every
served pattern on its public fields only, against :mod:`benchmarks.planted_sixth_truth`.

Run: ``PYTHONPATH= .venv/bin/python -m benchmarks.bench_planted_sixth --sizes 500,2000
--seeds 0,1,2 [--json]``. The summary shows the mean over seeds and the worst seed per size
(lowest F1 of precision and overall recall).

Judge rules (fixed before the learner was first run)
----------------------------------------------------
Planted facts: 10 sequences (one per family), 3 decisions (the decoy is not a fact),
3 context effects, 4 errors. Precision = true / judged; recall per kind and overall.

- ToolSequence: ``tools`` empty -> skipped; ``stale`` -> false. Otherwise true iff ``tools``
  equals one canonical variant of a family (fact ``seq:<family>``). A variant is the family's
  canonical tools where each decision slot holds its better option or is left out (the decoy
  slot: either option, or left out), and, for ``engine_compile``, the build step is
  ``build_with_msvc``, ``build_with_dotnet`` or left out. No context tool, noise tool, fix or
  replacement tool belongs in a variant. A helpful context tool may appear in ``tools`` only
  when ``conditional`` maps it to its planted feature. Every ``conditional`` entry must map a
  helpful context tool of the matched family to its planted feature, else false (the
  harmful tool in ``conditional`` is false).
- DecisionPoint: ``best`` or ``worst`` None -> skipped. True iff ``(after_tool, best, worst)``
  is a planted non-decoy decision's ``(after_tool, better, worse)``.
- ContextPattern: true iff ``measure == "outcome"``, ``tool`` is a planted context tool,
  ``feature`` names its planted feature and ``association`` is ``"success"`` for the helpful
  effects, ``"failure"`` for the harmful one. A feature names ``tag dlc`` when it reads
  ``dlc``, ``tag=dlc``, ``tag:dlc``, ``tags=dlc`` or ``tags:dlc`` (likewise ``language`` /
  ``lang`` for a language), case-insensitive.
- ErrorRecovery: false unless ``tool`` has a planted error. Then, by kind: retry -> true iff
  ``best_mode == "retry"``; fix -> ``best_mode == "fix"`` and ``best_recovery`` is the fix
  tool; replace -> ``best_mode == "replace"`` and ``best_recovery`` is the replacement; the
  state error ("precondition failed: build not signed", raised by submit_certification,
  publish_store_page and deploy_patch when called before sign_build) -> true iff
  ``best_mode == "fix"`` and ``best_recovery == "sign_build"``; any other claim (a retry, a
  replacement, no recovery = "broken") is false. The state fact is found when any true
  pattern about any of its three tools is served.

Changes after the first run
---------------------------
None: the world, the generator and these rules are as they were at the first run.
"""

from __future__ import annotations

import itertools
import sys

from selfmem.learning import ContextPattern, DecisionPoint, ErrorRecovery, ToolSequence

from . import planted_report as report
from . import planted_sixth_truth as T
from .planted_sixth import generate

_KEYS = {"tag": ("tag", "tags"), "language": ("language", "lang")}


def planted_facts() -> dict[str, list[str]]:
    return T.planted_facts()


def _slot_options(fam: T.Family, entry: str) -> list[tuple[str, ...]]:
    if entry == "@build":
        return [(tool,) for tool in T.SETTING_TOOLS.values()] + [()]
    if entry.startswith("?"):
        dec = next(d for d in T.DECISIONS if d.family == fam.name and d.slot == entry)
        options = [(dec.better,), ()]
        return [*options, (dec.worse,)] if dec.effect == 0.0 else options
    return [(entry,)]


def _variants(fam: T.Family) -> set[tuple[str, ...]]:
    slots = [_slot_options(fam, entry) for entry in fam.tools]
    return {tuple(itertools.chain(*combo)) for combo in itertools.product(*slots)}


_VARIANTS = {fam.name: _variants(fam) for fam in T.FAMILIES}


def names_feature(feature: str, ctx: T.ContextEffect) -> bool:
    """Whether a served feature string names the planted feature of ``ctx``."""
    text = feature.strip().lower()
    for sep in ("=", ":"):
        if sep in text:
            key, _, value = text.partition(sep)
            return key.strip() in _KEYS[ctx.key] and value.strip() == ctx.value
    return text == ctx.value


def _judge_sequence(p: ToolSequence) -> report.Verdict:
    if not p.tools:
        return "sequence", None, None
    if p.stale:
        return "sequence", False, None
    helpful = {c.tool: c for c in T.CONTEXT_EFFECTS if c.effect > 0}
    allowed = {t for t, f in p.conditional.items() if t in helpful and names_feature(f, helpful[t])}
    tools = tuple(t for t in p.tools if t not in allowed)
    fam = next((name for name, vs in _VARIANTS.items() if tools in vs), None)
    if fam is None:
        return "sequence", False, None
    if any(t not in allowed or helpful[t].family != fam for t in p.conditional):
        return "sequence", False, None
    return "sequence", True, f"seq:{fam}"


def _judge_decision(p: DecisionPoint) -> report.Verdict:
    if p.best is None or p.worst is None:
        return "decision", None, None
    for dec in T.DECISIONS:
        if dec.effect and (p.after_tool, p.best, p.worst) == (
            dec.after_tool,
            dec.better,
            dec.worse,
        ):
            return "decision", True, dec.id
    return "decision", False, None


def _judge_context(p: ContextPattern) -> report.Verdict:
    for ctx in T.CONTEXT_EFFECTS:
        association = "success" if ctx.effect > 0 else "failure"
        if (
            p.measure == "outcome"
            and p.tool == ctx.tool
            and p.association == association
            and names_feature(p.feature, ctx)
        ):
            return "context", True, ctx.id
    return "context", False, None


def _judge_error(p: ErrorRecovery) -> report.Verdict:
    err = next((e for e in T.ERRORS if p.tool in e.tools), None)
    if err is None:
        return "error", False, None
    claim = (p.best_mode, p.best_recovery)
    if err.kind == "retry":
        ok = p.best_mode == "retry"
    elif err.kind == "replace":
        ok = claim == ("replace", err.replacement)
    else:  # fix, and the state error whose fix is the missing earlier step
        ok = claim == ("fix", err.fix)
    return "error", ok, err.id if ok else None


def judge(pattern: report.Pattern) -> report.Verdict:
    if isinstance(pattern, ToolSequence):
        return _judge_sequence(pattern)
    if isinstance(pattern, DecisionPoint):
        return _judge_decision(pattern)
    if isinstance(pattern, ContextPattern):
        return _judge_context(pattern)
    return _judge_error(pattern)


def run_one(size: int, seed: int) -> report.Result:
    return report.run_one(size, seed, generate=generate, judge=judge, planted=planted_facts())


def _summary(results: list[report.Result]) -> None:
    report.print_summary(results, worst_seed=True)


def main(argv: list[str] | None = None) -> None:
    report.main(argv, __doc__, run_one, summary=_summary)


if __name__ == "__main__":
    main(sys.argv[1:])
