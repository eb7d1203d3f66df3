"""Run in a test kernel: each chart a cell shows is laid out, not painted.

IPython shows a matplotlib figure by drawing it into a PNG: a layout pass to find the
tight bounding box, then painting the pixels and compressing them. This file, run when
the kernel starts (``--IPKernelApp.exec_files``), swaps that for the layout pass alone:
every text, tick, legend and layout engine is placed as for the picture, so the errors a
log's data can raise when a chart is drawn (unparsable text, a picture too large to
paint) still fail the cell, and the cell's output is the figure's text line, not a
PNG. Painting is a quarter of a small study's CPU time; the studies that check pictures run
in an ordinary kernel.
"""

import IPython.core.pylabtools

#: Agg refuses to paint a picture this many pixels wide or high.
AGG_LIMIT = 2**16


def lay_out(figure, fmt="png", bbox_inches="tight", base64=False, **kwargs):
    """Stand-in for IPython's ``print_figure``: lay the figure out, measure, show no image."""
    figure.draw_without_rendering()
    box = figure.get_tightbbox()
    width, height = box.width * figure.dpi, box.height * figure.dpi
    if not (0 < width < AGG_LIMIT and 0 < height < AGG_LIMIT):
        raise ValueError(f"a chart of {width:.0f} x {height:.0f} pixels cannot be painted")


# Read when %matplotlib inline picks the figure formats, so this runs first.
IPython.core.pylabtools.print_figure = lay_out
