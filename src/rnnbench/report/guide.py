"""The selection guide, written from the measurements.

For each situation the seed article's guide (§4) names, it picks the cases that speak to it,
says which cell they favour on the measured device and by how much, and shows the numbers.
Where the data contradict the article, or do not exist, the sentence says so: no number here
is typed in, each comes from :mod:`.analysis` over the results files.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnbench.params import count_parameters
from rnnbench.report import seed
from rnnbench.report.accounting import recurrent
from rnnbench.report.analysis import closest, find, reference_key, reference_shape, shape_label
from rnnbench.report.convergence import ConvergenceResults
from rnnbench.report.load import BenchResults, Case
from rnnbench.report.style import cell_name
from rnnbench.report.tables import mib, percent, ratio, seconds


def fastest(cases: Sequence[Case], cell: str) -> Case | None:
    """The quickest implementation of ``cell`` among ``cases`` (one shape and pass)."""
    mine = [c for c in cases if c.cell == cell]
    return min(mine, key=lambda c: (c.median, c.impl)) if mine else None


def _time(case: Case) -> str:
    return f"{cell_name(case.cell)} {case.impl} {seconds(case.median)}"


def _versus(a: Case, b: Case) -> tuple[str, float]:
    """Which of two cases is faster and by how much (the slower time over the faster)."""
    fast, slow = (a, b) if a.median <= b.median else (b, a)
    return fast.cell, slow.median / fast.median


def _model(cases: Sequence[Case]) -> dict:
    """The model (I, H, L, device, dtype, layout) of the reference shape, as find() filters."""
    key = reference_shape(cases)
    sample = next(c for c in cases if reference_key(c) == key)
    return {"device": sample.device, "dtype": sample.dtype, "input_size": sample.input_size,
            "hidden_size": sample.hidden_size, "num_layers": sample.num_layers,
            "layout": sample.layout}


def _pair(cases: Sequence[Case], a: str, b: str) -> tuple[Case, Case] | None:
    first, second = fastest(cases, a), fastest(cases, b)
    return (first, second) if first and second else None


def small_batch(results: BenchResults) -> str:
    """Latency-bound, small batch: the smallest B measured, forward only where measured."""
    cases = find(results.cases, **_model(results.cases))
    if not cases:
        return ""
    b = min(c.B for c in cases)
    t = closest((c.T for c in find(cases, B=b)), seed.GRU_MODERATE_LENGTH)
    pass_ = "fwd" if find(cases, B=b, T=t, pass_="fwd") else "fwdbwd"
    pair = _pair(find(cases, B=b, T=t, pass_=pass_), "lstm", "gru")
    label = "Latency-bound, small batch"
    if pair is None:
        return f"- **{label}**: no LSTM and GRU cases at B={b}, T={t}."
    winner, factor = _versus(*pair)
    claim = ("consistent with the seed's GRU for resource-limited settings" if winner == "gru"
             else "**not** what the seed's GRU-for-resource-limited-settings advice expects")
    return (f"- **{label}** ({'inference, forward only' if pass_ == 'fwd' else 'training step'},"
            f" B={b}, T={t}, {shape_label(pair[0], with_pass=False).split(' ', 2)[2]}): "
            f"{cell_name(winner)} is {ratio(factor)} faster ({_time(pair[0])} vs "
            f"{_time(pair[1])}, fastest implementation of each); {claim}.")


def long_sequences(results: BenchResults) -> str:
    """Long sequences: the LSTM/GRU time ratio at the longest T against the shortest."""
    cases = find(results.cases, **_model(results.cases))
    reference = reference_shape(results.cases)
    b = reference[7]
    pass_ = "fwdbwd" if find(cases, B=b, pass_="fwdbwd") else "fwd"
    ts = sorted({c.T for c in find(cases, B=b, pass_=pass_)})
    label = "Long sequences"
    if len(ts) < 2:
        return f"- **{label}**: no sweep over T at B={b}; nothing to say about long sequences."
    pairs = {t: _pair(find(cases, B=b, T=t, pass_=pass_), "lstm", "gru") for t in ts}
    pairs = {t: p for t, p in pairs.items() if p}
    if len(pairs) < 2:
        return f"- **{label}**: LSTM and GRU are not both measured at two values of T."
    factors = {t: p[0].median / p[1].median for t, p in pairs.items()}
    short, long_ = min(pairs), max(pairs)
    per_step = {cell: pairs[long_][i].median / long_ for i, cell in enumerate(("lstm", "gru"))}
    limit = seed.GRU_MODERATE_LENGTH
    gru_faster = {t: f > 1 for t, f in factors.items()}
    text = (f"- **{label}** (B={b}, {'forward+backward' if pass_ == 'fwdbwd' else 'forward'}): "
            f"LSTM takes {ratio(factors[short])} GRU's time at T={short} and "
            f"{ratio(factors[long_])} at T={long_} ({seconds(per_step['lstm'])} vs "
            f"{seconds(per_step['gru'])} per time step at T={long_}). ")
    above = [t for t in gru_faster if t >= limit]
    below = [t for t in gru_faster if t < limit]
    if all(gru_faster.values()):
        text += "GRU is faster at every T measured"
        if above:
            text += (f", so the data do not support limiting GRU to sequences shorter than "
                     f"{limit} on cost grounds")
    elif not any(gru_faster.values()):
        text += ("LSTM is as fast or faster at every T measured: the seed's speed argument for "
                 "GRU does not hold on this device")
    elif below and all(gru_faster[t] for t in below) and not any(gru_faster[t] for t in above):
        text += (f"GRU is faster below T={limit} only, in line with the seed's "
                 f"GRU-for-T<{limit} advice")
    else:
        faster = ", ".join(f"T={t}" for t, g in gru_faster.items() if g)
        slower = ", ".join(f"T={t}" for t, g in gru_faster.items() if not g)
        text += f"GRU is faster at {faster} and LSTM at {slower}"
    if not below:
        text += f" (no T < {limit} measured)"
    return text + (". Whether LSTM keeps long-range information better is a convergence "
                   "question: see the accuracy items below.")


def tight_memory(results: BenchResults) -> str:
    """Tight memory: peak memory of LSTM and GRU at the longest T measured."""
    label = "Tight memory"
    model = _model(results.cases)
    cases = [c for c in find(results.cases, **model) if c.peak_memory_bytes is not None]
    params = {cell: count_parameters(recurrent(cell, model["input_size"], model["hidden_size"],
                                               model["num_layers"]))
              for cell in ("lstm", "gru")}
    weights = (f"weights: GRU has {percent(params['gru'] / params['lstm'], 0)} of LSTM's "
               f"parameters ({params['gru']:,} vs {params['lstm']:,})")
    if not cases:
        return f"- **{label}**: no peak memory recorded; {weights}."
    t = max(c.T for c in cases)
    at_t = find(cases, T=t)
    pass_ = "fwdbwd" if find(at_t, pass_="fwdbwd") else "fwd"
    b = closest((c.B for c in find(at_t, pass_=pass_)), reference_shape(results.cases)[7])
    native = {cell: find(at_t, pass_=pass_, B=b, cell=cell, impl="native") for cell in
              ("lstm", "gru")}
    if not all(native.values()):
        return f"- **{label}**: no native LSTM and GRU memory at T={t}; {weights}."
    lstm, gru = native["lstm"][0], native["gru"][0]
    share = gru.peak_memory_bytes / lstm.peak_memory_bytes
    verdict = "GRU needs less" if share < 1 else "GRU does **not** need less"
    text = (f"- **{label}** (T={t}, B={b}, "
            f"{'forward+backward' if pass_ == 'fwdbwd' else 'forward'}): {verdict} with the "
            f"native layers: {mib(gru.peak_memory_bytes)} vs LSTM "
            f"{mib(lstm.peak_memory_bytes)} ({percent(share, 0)})")
    least = {cell: min(find(at_t, pass_=pass_, B=b, cell=cell),
                       key=lambda c: (c.peak_memory_bytes, c.impl != "native", c.impl))
             for cell in ("lstm", "gru")}
    if any(least[cell].impl != "native" for cell in least):
        text += (f"; the least over implementations: GRU {least['gru'].impl} "
                 f"{mib(least['gru'].peak_memory_bytes)} vs LSTM {least['lstm'].impl} "
                 f"{mib(least['lstm'].peak_memory_bytes)} ("
                 f"{percent(least['gru'].peak_memory_bytes / least['lstm'].peak_memory_bytes, 0)})")
    return f"{text}; {weights}."


def bidirectional(results: BenchResults) -> str:
    """The cost of a bidirectional layer against the seed's "2× or more"."""
    label = "Bidirectional"
    seed_ratio = (seed.IMDB_TABLE["bilstm"].seconds_per_epoch
                  / seed.IMDB_TABLE["lstm"].seconds_per_epoch)
    seed_note = (f"the seed asks to accept ≥{seed.BIDIRECTIONAL_COST:g}× compute, yet its own "
                 f"IMDB table has BiLSTM/LSTM {seed.IMDB_TABLE['bilstm'].seconds_per_epoch:g} s/"
                 f"{seed.IMDB_TABLE['lstm'].seconds_per_epoch:g} s = {ratio(seed_ratio)} per "
                 "epoch")
    shapes: dict[tuple, list[Case]] = {}
    for case in find(results.cases, impl="native"):
        shapes.setdefault((*reference_key(case), case.pass_), []).append(case)
    found: dict[tuple, dict[str, float]] = {}
    for key, cases in shapes.items():
        for one, two in (("lstm", "bilstm"), ("gru", "bigru")):
            pair = _pair(cases, one, two)
            if pair:
                found.setdefault(key, {})[f"{cell_name(two)}/{cell_name(one)}"] = (
                    pair[1].median / pair[0].median)
    if not found:
        return f"- **{label}**: no bidirectional case beside its one-way cell; {seed_note}."
    reference = reference_shape(results.cases)

    def preference(key: tuple) -> tuple:
        return (key[5] != "padded", key[8] != "fwdbwd", -len(found[key]),
                key[:8] != reference, key)

    best = min(found, key=preference)
    sample = shapes[best][0]
    factors = found[best].values()
    verdict = ("at or above the seed's 2×" if min(factors) >= seed.BIDIRECTIONAL_COST else
               "below the seed's 2×" if max(factors) < seed.BIDIRECTIONAL_COST else
               "on both sides of the seed's 2×")
    times = ", ".join(f"{name} {ratio(factor)}" for name, factor in found[best].items())
    return (f"- **{label}** ({shape_label(sample)}, native): time {times}, "
            f"{verdict}; {seed_note}. The parameters double exactly (two directions, and wider "
            "layers above the first).")


def implementation(results: BenchResults) -> str:
    """Which implementation to measure a modified cell with: the reference shape and the
    same shape at the smallest batch, where per-step overhead weighs most."""
    reference = reference_shape(results.cases)
    shape = [c for c in results.cases if reference_key(c) == reference]
    pass_ = "fwdbwd" if find(shape, pass_="fwdbwd") else "fwd"
    model = _model(results.cases)
    batches = sorted({c.B for c in find(results.cases, **model, T=reference[6], pass_=pass_)})
    sentences = []
    for b in dict.fromkeys([reference[7], *batches[:1]]):
        cases = find(results.cases, **model, T=reference[6], B=b, pass_=pass_)
        parts = []
        for cell in ("lstm", "gru"):
            native = find(cases, cell=cell, impl="native")
            custom = [c for c in cases if c.cell == cell and c.impl != "native"]
            if native and custom:
                best = min(custom, key=lambda c: (c.median, c.impl))
                parts.append(f"{cell_name(cell)} {best.impl} "
                             f"{ratio(best.median / native[0].median)}")
        if parts:
            sentences.append(f"{', '.join(parts)} at B={b}")
    if not sentences:
        return ""
    return (f"- **Custom cells** ({shape_label(shape[0], with_pass=False).split(' ', 2)[2]}, "
            f"T={reference[6]}, {'forward+backward' if pass_ == 'fwdbwd' else 'forward'}): "
            f"time of the fastest custom implementation over native: {'; '.join(sentences)} "
            "(below 1× the custom loop beats the native kernel). A modified gate starts from "
            "this overhead or gain before its own work.")


def device_items(results: BenchResults) -> list[str]:
    if not results.cases:
        return []
    items = [small_batch(results), long_sequences(results), tight_memory(results),
             bidirectional(results), implementation(results)]
    return [item for item in items if item]


def section(benches: Sequence[BenchResults], runs: Sequence[ConvergenceResults],
            accuracy_items: Sequence[str]) -> str:
    """The whole guide: per device, then accuracy, then what the data cannot say."""
    parts = ["## Selection guide",
             "What the measurements below favour, situation by situation, beside the seed "
             "article's advice (§4: LSTM for fine memory control, ample resources and "
             "long-range dependencies; GRU for fast prototyping, resource-limited settings and "
             f"sequences shorter than {seed.GRU_MODERATE_LENGTH}; bidirectional when context "
             f"matters, at ≥{seed.BIDIRECTIONAL_COST:g}× compute). Times are medians; "
             "\"faster\" compares the fastest implementation of each cell."]
    for results in benches:
        items = device_items(results)
        if items:
            parts.append(f"### Speed and memory on {results.device_name} "
                         f"(`{results.path.name}`)")
            parts.append("\n".join(items))
    parts.append("### Accuracy first")
    parts.append("\n".join(accuracy_items) if accuracy_items else
                 "- No convergence results yet: nothing to say about which cell learns better.")
    parts.append("### What these data cannot say")
    parts.append("\n".join(gaps(benches, runs)))
    return "\n\n".join(parts)


def gaps(benches: Sequence[BenchResults], runs: Sequence[ConvergenceResults]) -> list[str]:
    """The plain list of what is missing, so no reader takes silence for evidence."""
    devices = {c.device for results in benches for c in results.cases}
    lines = []
    if not benches or not devices:
        lines.append("- No benchmark results: no speed or memory statement is possible.")
    elif not any(d.startswith("cuda") for d in devices):
        lines.append(f"- No GPU results: every speed and memory statement holds for "
                     f"{', '.join(sorted({r.device_name for r in benches if r.cases}))} only. "
                     "The seed article measured on a GPU (cuDNN), where the ranking and the "
                     "custom/native gap can differ.")
    if not runs or not any(r.runs for r in runs):
        lines.append("- No convergence results: accuracy, epochs to converge and the value of "
                     "long-range memory are not measured here.")
    lines.append("- Machine translation, pretrained embeddings and mobile deployment (seed §4) "
                 "are not measured by rnnbench.")
    return lines
