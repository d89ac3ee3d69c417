"""Progress a person can follow: plain lines when stdout is not a terminal, rich bars when
it is (hpfree.progress)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from hpfree import progress


def test_plain_lines_for_a_batch_and_a_sweep():
    lines: list[str] = []
    bar = progress.RunProgress("mini_wmt × 3 points", lines.append, rich=False)
    bar.note("compiling …")
    bar.start([100, 100, 50], [0, 0, 0])
    bar.update([50, 50, 50], [None, None, "completed"], chunk_s=0.5)
    bar.row("[hpfree] step 50 ...")  # evaluation lines are for single runs only
    bar.stop()
    assert lines[0] == "[hpfree] mini_wmt × 3 points: compiling …"
    assert lines[1].startswith("[hpfree] mini_wmt × 3 points: step 50/100  100 steps/s  eta ")
    assert lines[1].endswith("(1/3 done)") and len(lines) == 2
    sweep = progress.SweepProgress("sweep points", 10, lines.append, rich=False)
    text = sweep.update({"completed": 3, "diverged": 1, "failed": 0, "running": 2}, 4)
    assert text.startswith("done 3 · diverged 1 · failed 0 · running 2 | ")
    assert text.endswith(" points/h")


def test_a_terminal_gets_one_live_display_for_every_bar(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(progress, "CONSOLE", Console(file=out, force_terminal=True, width=120))
    run = progress.RunProgress("run", rich=True)
    sweep = progress.SweepProgress("sweep points", 4, rich=True)
    run.start([200], [0])
    assert progress._LIVE is not None and progress._USERS == 2
    run.update([100], [None], chunk_s=1.0)
    progress._LIVE.refresh()
    progress.say("a line above the bars")
    run.stop()
    sweep.stop()
    assert progress._LIVE is None
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())
    assert "a line above the bars" in text and "100/200" in text and "100 steps/s" in text
