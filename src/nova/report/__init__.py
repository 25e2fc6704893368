"""The benchmark report: one self-contained HTML file with charts, and a Markdown summary."""

from nova.report._charts import CHART_NAMES, Chart, build_charts, candidate_colours
from nova.report._render import ReportInputs, render_report, write_report

__all__ = [
    "CHART_NAMES",
    "Chart",
    "ReportInputs",
    "build_charts",
    "candidate_colours",
    "render_report",
    "write_report",
]
