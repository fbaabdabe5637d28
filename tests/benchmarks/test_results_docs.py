"""`make results-docs` (benchmarks/results_docs.py): the committed tables are what the raw
files render, a generated region is replaced and the prose around it kept, and the
figures it computes (margins, the suite's time) say what the raw files hold."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks import results_docs


def test_every_committed_table_is_what_the_raw_files_render():
    stale = [str(path.relative_to(results_docs.ROOT)) for path, text in results_docs.expected().items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"run `make results-docs`: {stale} differ from what benchmarks/results/*.json render"


def test_rendering_reads_json_only_without_tensorflow():
    probe = ("import sys; from benchmarks import results_docs; results_docs.expected(); "
             "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=results_docs.ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_a_region_is_rendered_again_and_the_prose_around_it_kept(monkeypatch):
    monkeypatch.setitem(results_docs.TABLES, "demo", lambda: "| a |\n|---|\n| 1 |\n")
    doc = ("Hand-written prose.\n\n<!-- results-docs: demo -->\n| a |\n|---|\n| 0 |\n<!-- /results-docs -->\n\n"
           "More prose: 0.\n")
    assert results_docs.fill(doc) == doc.replace("| 0 |", "| 1 |")
    assert results_docs.fill(results_docs.fill(doc)) == results_docs.fill(doc)


@pytest.mark.parametrize("doc, message", [
    ("<!-- results-docs: nowhere -->\n| a |\n<!-- /results-docs -->\n", "no renderer for the region 'nowhere'"),
    ("<!-- results-docs: headline-seeds -->\n| a |\n", "the region 'headline-seeds' has no <!-- /results-docs -->"),
])
def test_a_broken_region_names_the_file_and_the_region(doc, message):
    with pytest.raises(ValueError, match=f"^docs/x.md: {message}"):
        results_docs.fill(doc, where="docs/x.md")


def test_check_names_a_stale_file_and_writes_nothing_then_the_command_fixes_it(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "doc.md"
    stale = "Prose.\n<!-- results-docs: demo -->\nold\n<!-- /results-docs -->\n"
    doc.write_text(stale)
    monkeypatch.setattr(results_docs, "ROOT", tmp_path)
    monkeypatch.setattr(results_docs, "DOCS", (doc,))
    monkeypatch.setattr(results_docs, "BESIDE", {})
    monkeypatch.setattr(results_docs, "RESULTS", tmp_path)
    monkeypatch.setitem(results_docs.TABLES, "demo", lambda: "new\n")
    (tmp_path / "SUMMARY.md").write_text(results_docs.summary(tmp_path, names=[]))

    assert results_docs.main(["--check"]) == 1
    assert "stale: doc.md" in capsys.readouterr().err and doc.read_text() == stale
    assert results_docs.main([]) == 0
    assert doc.read_text() == "Prose.\n<!-- results-docs: demo -->\nnew\n<!-- /results-docs -->\n"
    assert results_docs.main(["--check"]) == 0


@pytest.mark.parametrize("values, target, said", [
    ([0.990, 0.991, 0.989], 0.995, "**no**, by 5 test examples"),
    ([0.989, 0.993, 0.990], 0.990, "yes, with no margin: one more error in seed 2 misses it"),
    ([0.990, 0.993, 0.990], 0.990, "yes, with no margin: one more error in a median seed misses it"),
    ([0.995, 0.993, 0.996], 0.990, "yes, by 5 test examples"),
])
def test_a_target_on_the_median_says_by_how_many_test_examples(values, target, said):
    assert results_docs._margin(values, [0, 1, 2], target) == said


def test_the_suite_time_counts_passing_runs_of_the_latest_size_on_an_idle_machine(monkeypatch):
    def run(result, what, commit="abc"):
        return {"date": "2026-12-02", "commit": commit, "what": what, "result": result}

    runs = [run("684 passed, 7 deselected in 1651.24s (0:27:31)", "make test in the checkout, nothing else running"),
            run("689 passed in 1844.38s (0:30:44)", "make test in the checkout, nothing else running"),
            run("689 passed in 1200.00s (0:20:00)", "make test in the checkout, a benchmark beside it"),
            run("2 failed, 689 passed in 1000.00s (0:16:40)", "make test in the checkout, nothing else running"),
            run("373 passed in 189.61s (0:03:09)", "make test-fast (unit tests only)"),
            run("689 passed in 2123.44s (0:35:23)", "make test on a clean clone, nothing else running"),
            run("689 passed in 2389.94s (0:39:49)", "make test in the checkout, nothing else running")]
    monkeypatch.setattr(results_docs, "raw", lambda name: {"runs": runs})
    assert results_docs.readme_test_time().startswith(
        "The last 3 passing runs of its 689 tests took 30.7 to 39.8 minutes on a 2-core machine with nothing else "
        "running (the machine's speed varies between sittings; 35.4 on a clean clone, 2026-12-02;")
    runs.append(run("700 passed in 1800.00s (0:30:00)", "make test in the checkout, nothing else running"))
    assert results_docs.readme_test_time().startswith(
        "The last passing run of its 700 tests took 30.0 minutes on a 2-core machine with nothing else running "
        "(the machine's speed varies between sittings;")
    # A new count measured only beside other work: the latest idle run stands in, and says so.
    runs.append(run("710 passed in 1500.00s (0:25:00)", "make test at the stop, a benchmark beside it"))
    assert results_docs.readme_test_time() == (
        "The last passing run timed with nothing else running, of 700 tests (it has 710 now), took 30.0 minutes "
        "on a 2-core machine (`benchmarks/results/test_suite_times.json`).\n")
    runs[:] = [runs[-1]]
    assert results_docs.readme_test_time().startswith("No run of its 710 tests has been timed on an idle machine")
