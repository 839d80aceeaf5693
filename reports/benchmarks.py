"""Turn the ``benchmarks`` lists of results files into what the report shows: per target a table, a chart of
rows/s by size (inline SVG, every text escaped) and a recommendation; and the same as Markdown."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from reports.merge import target_key

SQLALCHEMY_LAYERS = ("orm", "core")  # "SQLAlchemy paths"; dbapi and limit go around SQLAlchemy
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#ad494a",
)
LIMIT_COLOUR = "#000000"
ABOVE_LIMIT = (
    "above 100% of the limit: faster than the fastest raw path measured here, which no path through SQLAlchemy "
    "can really be; noise, or first-use costs of the raw path at this size."
)
NOISY_SPREAD = 0.05  # IQR/median above this: the machine was busy, or the measurement needs more rounds
CHART_WIDTH, CHART_HEIGHT = 900, 330
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 70, 470, 20, 280


@dataclass
class BenchmarkRow:
    """One measurement as the table shows it; numbers already formatted."""

    strategy: str
    title: str
    method: str
    layer: str
    is_limit: bool
    rows: str
    outcome: str
    reason: str
    median: str = ""
    spread: str = ""
    noisy: bool = False
    rows_per_s: str = ""
    fraction_of_limit: str = ""
    above_limit: bool = False  # faster than the fastest raw path: a measurement artefact, not a real speed-up
    round_trips: str = ""
    peak_memory: str = ""
    example: str = ""  # SQLAlchemy's own example on the same server: rows/s and its ratio to ours, or why not


@dataclass
class SizeGroup:
    rows: int
    rows_label: str
    measurements: list[BenchmarkRow]


@dataclass
class TargetSection:
    """Everything measured on one target (backend, driver, server, SQLAlchemy) for one row shape."""

    anchor: str
    heading: str
    details: str
    recommendation: str
    sizes: list[SizeGroup]
    chart_svg: Markup
    notes: list[str] = field(default_factory=list)
    has_example: bool = False  # some row carries SQLAlchemy's own example figure
    machine_spread: str = ""  # the control measurement's IQR/median: what this machine allows any measurement


@dataclass
class BenchmarksView:
    sections: list[TargetSection]
    measurements: int
    above_limit_note: str = ABOVE_LIMIT


# --- formatting ---------------------------------------------------------------------------------------


def format_seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1_000_000:.0f} µs"


def format_count(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def format_percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{digits}f}%"


def format_bytes(value: int | None) -> str:
    if value is None:
        return ""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def strategy_label(record: dict[str, Any]) -> str:
    if record.get("is_limit"):
        return f"physical limit: {record.get('method') or record.get('title') or record['strategy']}"
    return str(record.get("title") or record["strategy"])


def spread_of(record: dict[str, Any]) -> float | None:
    median, iqr = record.get("median_s"), record.get("iqr_s")
    return iqr / median if median and iqr is not None else None


# --- the view model ---------------------------------------------------------------------------------------


def build_benchmarks_view(benchmarks: list[dict[str, Any]]) -> BenchmarksView | None:
    """The benchmarks section of the report, or None when no results file has benchmarks."""
    if not benchmarks:
        return None
    groups = group_by_target(benchmarks)
    sections = [build_section(key, records, notes) for key, (records, notes) in groups.items()]
    return BenchmarksView(sections, sum(len(records) for records, _ in groups.values()))


def group_by_target(benchmarks: list[dict[str, Any]]) -> dict[tuple, tuple[list[dict[str, Any]], list[str]]]:
    """Measurements per (target, row shape), in the report's target order; a repeated measurement is noted."""
    order = {"sqlite": 0, "postgresql": 1, "mysql": 2}
    groups: dict[tuple, tuple[list[dict[str, Any]], list[str]]] = {}
    seen: set[tuple] = set()
    for record in benchmarks:
        key = (*target_key(record.get("target", {})), str(record.get("row_shape", "narrow")))
        records, notes = groups.setdefault(key, ([], []))
        measurement = (key, record.get("strategy"), record.get("rows"))
        if measurement in seen:
            rows = format_count(record.get("rows"))
            notes.append(f"{strategy_label(record)} at {rows} rows appears twice: kept the first")
            continue
        seen.add(measurement)
        records.append(record)
    return dict(sorted(groups.items(), key=lambda item: (order.get(item[0][0], 9), item[0])))


def build_section(key: tuple, records: list[dict[str, Any]], notes: list[str]) -> TargetSection:
    target = records[0].get("target", {})
    driver = str(target.get("driver", "?"))
    if target.get("driver_version"):
        driver += f" {target['driver_version']}"
    heading = f"{target.get('backend', '?')} / {driver}"
    details = " · ".join(
        part
        for part in (
            str(target.get("server") or ""),
            f"SQLAlchemy {target.get('sqlalchemy')}" if target.get("sqlalchemy") else "",
            f"{records[0].get('row_shape', 'narrow')} rows ({records[0].get('columns', '?')} columns)",
            f"{records[0].get('mode')} mode" if records[0].get("mode") else "",
        )
        if part
    )
    sizes = sorted({int(record["rows"]) for record in records})
    groups = [
        SizeGroup(
            size,
            format_count(size),
            [table_row(record) for record in sorted_for_table([r for r in records if r["rows"] == size])],
        )
        for size in sizes
    ]
    anchor = "bench-" + re.sub(r"[^a-z0-9]+", "-", " ".join(map(str, key)).lower()).strip("-")
    return TargetSection(
        anchor,
        heading,
        details,
        recommendation(records),
        groups,
        chart_svg(heading, records),
        notes,
        has_example=any(record.get("sqlalchemy_example") for record in records),
        machine_spread=machine_spread_text(records[0].get("machine_spread")),
    )


def machine_spread_text(spread: dict[str, Any] | None) -> str:
    """ "this machine's own spread: 7.2% before, 9.9% after (a pure-Python loop, 15 rounds)", or ""."""
    if not spread:
        return ""
    parts = [
        f"{format_percent(spread[when].get('iqr_ratio'))} {when}"
        for when in ("before", "after")
        if isinstance(spread.get(when), dict) and spread[when].get("iqr_ratio") is not None
    ]
    first = next((spread[when] for when in ("before", "after") if isinstance(spread.get(when), dict)), {})
    if not parts:
        return ""
    return (
        f"this machine's own IQR/median: {', '.join(parts)} the benchmarks "
        f"({first.get('what', 'a fixed loop')}, {first.get('rounds', '?')} rounds)"
    )


def example_text(record: dict[str, Any]) -> str:
    """SQLAlchemy's own example beside ours: "98,000 rows/s (0.97× ours)", or why it has no figure."""
    example = record.get("sqlalchemy_example")
    if not example:
        return ""
    if example.get("unavailable"):
        return f"not run: {example['unavailable']}"
    text = f"{format_count(example.get('rows_per_s'))} rows/s"
    if example.get("ratio_to_ours") is not None:
        text += f" ({example['ratio_to_ours']:.2f}× ours)"
    return text


def sorted_for_table(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fastest first; what was not measured (unsupported, failed) after, with its reason."""
    return sorted(records, key=lambda record: (record.get("outcome") != "measured", -(record.get("rows_per_s") or 0)))


def table_row(record: dict[str, Any]) -> BenchmarkRow:
    row = BenchmarkRow(
        strategy=str(record["strategy"]),
        title=strategy_label(record),
        method=str(record.get("method") or ""),
        layer=str(record.get("layer") or ""),
        is_limit=bool(record.get("is_limit")),
        rows=format_count(record.get("rows")),
        outcome=str(record.get("outcome") or "measured"),
        reason=str(record.get("reason") or ""),
    )
    if row.outcome != "measured":
        return row
    row.median = format_seconds(record.get("median_s"))
    spread = spread_of(record)
    row.spread = format_percent(spread)
    row.noisy = spread is not None and spread > NOISY_SPREAD
    row.rows_per_s = format_count(record.get("rows_per_s"))
    row.fraction_of_limit = format_percent(record.get("fraction_of_limit"), 0)
    row.above_limit = not row.is_limit and (record.get("fraction_of_limit") or 0) > 1.0
    trips = record.get("round_trips")
    row.round_trips = "not observable (DBAPI)" if trips is None else format_count(trips)
    row.peak_memory = format_bytes(record.get("peak_mem_bytes"))
    row.example = example_text(record)
    return row


def recommendation(records: list[dict[str, Any]]) -> str:
    """ "fastest SQLAlchemy path: X, Y% of COPY" at the largest size where anything was measured; "tied within
    noise" instead when the runner-up's median is not beyond both IQRs."""
    measured = [record for record in records if record.get("outcome", "measured") == "measured"]
    if not measured:
        return "nothing was measured on this target"
    size = max(record["rows"] for record in measured)
    at_size = [record for record in measured if record["rows"] == size]
    sqlalchemy_paths = [record for record in at_size if record.get("layer") in SQLALCHEMY_LAYERS]
    if not sqlalchemy_paths:
        return f"no SQLAlchemy path was measured at {size:,} rows"
    limit = next((record for record in at_size if record.get("is_limit")), None)
    leaders = tied_with_fastest(sqlalchemy_paths)
    fastest = leaders[0]
    reference = fastest.get("limit_method") or ((limit.get("method") or "the limit") if limit else None)
    has_fraction = reference is not None and fastest.get("fraction_of_limit") is not None
    if len(leaders) == 1:
        sentence = f"fastest SQLAlchemy path at {size:,} rows: {strategy_label(fastest)}, "
        sentence += f"{format_count(fastest['rows_per_s'])} rows/s"
        sentence += f", {format_percent(fastest['fraction_of_limit'], 0)} of {reference}" if has_fraction else ""
    else:
        tied = ", ".join(
            f"{strategy_label(record)} ({format_count(record['rows_per_s'])} rows/s"
            + (f", {format_percent(record.get('fraction_of_limit'), 0)})" if has_fraction else ")")
            for record in leaders
        )
        sentence = (
            f"no single fastest SQLAlchemy path at {size:,} rows, tied within noise (medians closer than their "
            f"IQRs): {tied}"
        )
        sentence += f"; percentages of {reference}" if has_fraction else ""
    if not has_fraction:
        sentence += " (no physical limit measured)"
    orm_paths = [record for record in sqlalchemy_paths if record.get("layer") == "orm"]
    if orm_paths and all(record.get("layer") != "orm" for record in leaders):
        orm_leaders = tied_with_fastest(orm_paths)
        if len(orm_leaders) == 1:
            sentence += f"; fastest ORM path: {strategy_label(orm_leaders[0])}"
            if orm_leaders[0].get("fraction_of_limit") is not None:
                sentence += f", {format_percent(orm_leaders[0]['fraction_of_limit'], 0)}"
        else:
            sentence += f"; ORM paths tied within noise: {', '.join(strategy_label(r) for r in orm_leaders)}"
    return sentence + "."


def tied_with_fastest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fastest measurement, then every other whose median is not beyond both spreads of it: the gap between
    the two medians is no wider than the larger of their IQRs (fastest first)."""
    ranked = sorted(records, key=lambda record: -(record.get("rows_per_s") or 0))
    fastest = ranked[0]

    def within_noise(other: dict[str, Any]) -> bool:
        if fastest.get("median_s") is None or other.get("median_s") is None:
            return False
        gap = other["median_s"] - fastest["median_s"]
        return gap <= max(fastest.get("iqr_s") or 0, other.get("iqr_s") or 0)

    return [fastest, *(record for record in ranked[1:] if within_noise(record))]


# --- the chart ------------------------------------------------------------------------------------------------


def chart_svg(title: str, records: list[dict[str, Any]]) -> Markup:
    """Rows/s by number of rows, one line per strategy, log-log: how each strategy's cost grows with N."""
    measured = [r for r in records if r.get("outcome", "measured") == "measured" and (r.get("rows_per_s") or 0) > 0]
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            'aria-label="{label}" class="bench-chart">'
        ).format(w=CHART_WIDTH, h=CHART_HEIGHT, label=f"rows per second by number of rows: {title}"),
        Markup("<title>{}</title>").format(f"rows/s by number of rows: {title}"),
    ]
    if not measured:
        parts.append(Markup('<text x="20" y="40">{}</text>').format("nothing measured"))
        return Markup("").join([*parts, Markup("</svg>")])
    sizes = sorted({int(r["rows"]) for r in measured})
    speeds = [float(r["rows_per_s"]) for r in measured]
    low, high = math.floor(math.log10(min(speeds))), math.ceil(math.log10(max(speeds)))
    high = max(high, low + 1)

    def x_of(size: int) -> float:
        if len(sizes) == 1:
            return (PLOT_LEFT + PLOT_RIGHT) / 2
        span = math.log10(sizes[-1]) - math.log10(sizes[0])
        return PLOT_LEFT + (math.log10(size) - math.log10(sizes[0])) / span * (PLOT_RIGHT - PLOT_LEFT)

    def y_of(speed: float) -> float:
        return PLOT_BOTTOM - (math.log10(speed) - low) / (high - low) * (PLOT_BOTTOM - PLOT_TOP)

    parts += axes(sizes, low, high, x_of, y_of)
    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for record in measured:
        by_strategy.setdefault(str(record["strategy"]), []).append(record)
    largest = sizes[-1]

    def speed_at_largest(item: tuple[str, list[dict[str, Any]]]) -> float:
        return -max((r["rows_per_s"] for r in item[1] if r["rows"] == largest), default=0)

    for index, (_, points) in enumerate(sorted(by_strategy.items(), key=speed_at_largest)):
        points.sort(key=lambda r: r["rows"])
        is_limit = bool(points[0].get("is_limit"))
        colour = LIMIT_COLOUR if is_limit else PALETTE[index % len(PALETTE)]
        label = strategy_label(points[0])
        coordinates = " ".join(f"{x_of(p['rows']):.1f},{y_of(p['rows_per_s']):.1f}" for p in points)
        dash = ' stroke-dasharray="6 3"' if is_limit else ""
        parts.append(
            Markup('<polyline fill="none" stroke="{}" stroke-width="{}"{} points="{}"/>').format(
                colour, 2.5 if is_limit else 1.5, Markup(dash), coordinates
            )
        )
        for point in points:
            parts.append(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{}</title></circle>').format(
                    x_of(point["rows"]),
                    y_of(point["rows_per_s"]),
                    colour,
                    f"{label}: {format_count(point['rows_per_s'])} rows/s at {format_count(point['rows'])} rows",
                )
            )
        legend_y = PLOT_TOP + 6 + index * 18
        parts.append(
            Markup(
                '<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{c}" stroke-width="3"{dash}/>'
                '<text x="{tx}" y="{ty}" font-size="11">{label}</text>'
            ).format(
                x1=PLOT_RIGHT + 18,
                x2=PLOT_RIGHT + 36,
                y=legend_y,
                c=colour,
                dash=Markup(dash),
                tx=PLOT_RIGHT + 42,
                ty=legend_y + 4,
                label=shorten(label, 60),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def axes(sizes: list[int], low: int, high: int, x_of: Any, y_of: Any) -> list[Markup]:
    parts = [
        Markup('<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#57606a"/>').format(
            l=PLOT_LEFT, r=PLOT_RIGHT, b=PLOT_BOTTOM
        ),
        Markup('<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#57606a"/>').format(
            l=PLOT_LEFT, t=PLOT_TOP, b=PLOT_BOTTOM
        ),
        Markup('<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>').format(
            (PLOT_LEFT + PLOT_RIGHT) / 2, CHART_HEIGHT - 8, "rows loaded (log scale)"
        ),
        Markup(
            '<text x="14" y="{y}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {y})">{}</text>'
        ).format("rows/s (log scale)", y=(PLOT_TOP + PLOT_BOTTOM) / 2),
    ]
    for size in sizes:
        parts.append(
            Markup('<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}</text>').format(
                x_of(size), PLOT_BOTTOM + 16, format_count(size)
            )
        )
    for exponent in range(low, high + 1):
        y = y_of(10.0**exponent)
        parts.append(
            Markup(
                '<line x1="{l}" y1="{y:.1f}" x2="{r}" y2="{y:.1f}" stroke="#d0d7de" stroke-dasharray="2 3"/>'
                '<text x="{tx}" y="{ty:.1f}" font-size="11" text-anchor="end">{label}</text>'
            ).format(l=PLOT_LEFT, r=PLOT_RIGHT, y=y, tx=PLOT_LEFT - 6, ty=y + 4, label=format_count(10.0**exponent))
        )
    return parts


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Markdown -----------------------------------------------------------------------------------------------------


def markdown_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_benchmarks_markdown(benchmarks: list[dict[str, Any]]) -> str:
    """The benchmarks as Markdown: per target a heading, the recommendation and the table."""
    view = build_benchmarks_view(benchmarks)
    if view is None:
        return ""
    lines = ["## Bulk-insert benchmarks", ""]
    for section in view.sections:
        lines += [f"### {markdown_cell(section.heading)}", "", markdown_cell(section.details), ""]
        lines += [markdown_cell(section.recommendation), ""]
        example = " SQLAlchemy's example |" if section.has_example else ""
        heading = "| strategy | rows | median | IQR/median | rows/s | fraction of limit | round trips | peak memory |"
        lines += [
            heading + example,
            "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if section.has_example else ""),
        ]
        for group in section.sizes:
            for row in group.measurements:
                extra = f" {markdown_cell(row.example)} |" if section.has_example else ""
                if row.outcome != "measured":
                    lines.append(
                        f"| {markdown_cell(row.title)} | {row.rows} | {row.outcome}: {markdown_cell(row.reason)} "
                        f"| | | | | |{extra}"
                    )
                    continue
                spread = f"{row.spread} ⚠" if row.noisy else row.spread
                fraction = f"{row.fraction_of_limit} ⚠" if row.above_limit else row.fraction_of_limit
                lines.append(
                    f"| {markdown_cell(row.title)} | {row.rows} | {row.median} | {spread} | {row.rows_per_s} "
                    f"| {fraction} | {markdown_cell(row.round_trips)} | {row.peak_memory} |{extra}"
                )
        # a table runs on until a blank line: every line after it is a paragraph of its own
        lines.append("")
        if any(row.noisy for group in section.sizes for row in group.measurements):
            lines += [f"⚠ IQR/median above {NOISY_SPREAD:.0%}: a busy machine, or too few rounds.", ""]
        if any(row.above_limit for group in section.sizes for row in group.measurements):
            lines += [f"⚠ {ABOVE_LIMIT}", ""]
        if section.machine_spread:
            lines += [f"Control: {markdown_cell(section.machine_spread)}.", ""]
        if section.notes:
            lines += [*(f"- note: {markdown_cell(note)}" for note in section.notes), ""]
    return "\n".join(lines)
