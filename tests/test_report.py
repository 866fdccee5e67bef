"""The executed report: every notebook under papermill (smoke profile), HTML, index, browser."""
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from browser import WIDGET_PAGES, check_pages, chromium_or_skip
from pages import seeds_that_are_not_random_seeds, unreadable_tables
from mnistlib import RunStore
from mnistlib.errors import ConfigError, MnistlibError
from mnistlib.report.context import setup_notebook
from mnistlib.report.runner import ReportError, notebook_paths, run_report

NOTEBOOKS = notebook_paths()


@pytest.fixture(scope="session")
def smoke_report(tmp_path_factory):
    """One smoke report for the whole session, made as a user makes it (the command line, a params
    file): (index.html path, params used)."""
    from mnistlib.cli import main

    root = tmp_path_factory.mktemp("report")
    params = {"runs_dir": str(root / "runs"), "figures_dir": str(root / "figures")}
    (root / "params.yaml").write_text("".join(f"{key}: {value}\n" for key, value in params.items()))
    assert main(["report", "--profile", "smoke", "--params", str(root / "params.yaml"), "--reports-dir",
                 str(root / "reports"), "--no-progress"]) == 0
    return root / "reports" / "smoke" / "index.html", params


def test_every_notebook_executes_and_keeps_outputs(smoke_report):
    index, params = smoke_report
    for path in NOTEBOOKS:
        executed = nbformat.read(index.parent / path.name, as_version=4)
        code = [c for c in executed.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), path.name
        assert not [o for c in code for o in c.outputs if o.output_type == "error"]
        images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
        assert images, f"{path.name} shows no figure"
        prefix = path.name[:2]
        saved = list((Path(params["figures_dir"]) / "smoke").glob(f"{prefix}-*.png"))
        assert len(saved) == len(images), path.name  # each figure shown is also saved under a stable name
        assert (index.parent / "logs" / f"{path.stem}.log").exists()


def test_no_plumbing_on_the_page(smoke_report):
    """No store log lines, Python reprs or paths of the machine that made the report in any page."""
    index, params = smoke_report
    machine_paths = {str(index.parent.parent.parent), str(Path.home()), str(Path(__file__).resolve().parents[1])}
    for page in index.parent.glob("*.html"):
        html = page.read_text()
        assert "reused from the store" not in html and "trained in " not in html, page.name
        assert "PosixPath" not in html and "<pandas." not in html, page.name
        assert not [p for p in machine_paths if p in html], page.name
    assert "reused from the store" in (index.parent / "logs" / "05_summary-runs.log").read_text()
    trained = (index.parent / "logs" / "training.log").read_text()  # the report began from an empty store
    assert "trained by this report (lenet5-" in trained and "reused from the store" not in trained


def test_html_pages_are_self_contained_and_linked(smoke_report):
    index, _ = smoke_report
    page = index.read_text()
    links = re.findall(r'href="([^"]+)"', page)
    assert links == [p.with_suffix(".html").name for p in NOTEBOOKS]
    for link in links:
        html = (index.parent / link).read_text()
        assert "data:image/png;base64," in html
        assert not re.search(r'<script[^>]+src="https?:', html)  # nothing from a CDN
        assert "setup_notebook(" not in html  # plumbing code hidden, its output kept
        for target in re.findall(r'href="([^"#:]+\.html)"', html):
            assert (index.parent / target).exists(), target
    assert "60806" in page  # headline numbers reach the index
    assert page.count("data:image/png;base64,") == 1  # and the headline figure (notebook 5's), embedded


def test_summary_holds_all_13_runs(smoke_report):
    index, _ = smoke_report
    summary = nbformat.read(index.parent / "05_summary.ipynb", as_version=4)
    text = json.dumps([o for c in summary.cells if c.cell_type == "code" for o in c.outputs], ensure_ascii=False)
    for label in ["LeNet-5", "CustomMLP_1", "CustomMLP_6", "λ=1e-2", "noise 0.3"]:
        assert label in text
    headline = json.loads((index.parent / "headlines" / "05_summary.json").read_text())
    assert headline["runs"] == "13 configurations × 2 random seeds"  # the smoke profile's seeds
    seeds = pd.read_csv(index.parent / "summary.csv", index_col=0)
    assert len(seeds) == 13 and (seeds.seeds == 2).all() and seeds.mean_test_acc_std.notna().all()


def test_the_pages_of_the_original_runs_show_bias_and_variance_over_seeds(smoke_report):
    index, _ = smoke_report
    for name, labels in (("mlp-bias-variance", {"LeNet-5", "CustomMLP_1"}),
                         ("weight-decay-bias-variance", {"LeNet-5, λ=0", "LeNet-5, λ=1e-2"}),
                         ("noise-bias-variance", {"LeNet-5, no noise", "LeNet-5, noise 0.3, drawn once"})):
        table = pd.read_csv(index.parent / f"{name}.csv", index_col=0)
        assert labels <= set(table.index) and (table.seeds == 2).all(), name
        assert ((table.error - table.bias - table.net_variance).abs() < 1e-9).all(), name  # Domingos: E = B + net V
    tests = pd.read_csv(index.parent / "weight-decay-bias-variance-tests.csv")
    assert set(tests.verdict) == {"undecided"}  # 2 seeds against 2 cannot reach p < 0.05


def test_the_index_names_the_cpu_that_trained_the_runs(smoke_report):
    from mnistlib._util.machine import cpu_name

    index, _ = smoke_report
    assert f"Its runs were trained on: {cpu_name()}, 1 thread a run" in index.read_text()


def test_beyond_notebook_answers_from_its_runs_and_the_summary_shows_them(smoke_report):
    index, params = smoke_report
    answers = pd.read_csv(index.parent / "beyond-answers.csv").set_index(["question", "finding"]).value
    questions = set(answers.index.get_level_values("question"))
    assert questions == {"variance across seeds", "λ sweep, LeNet-5", "λ sweep, CustomMLP_6", "6 epochs, LeNet-5",
                         "6 epochs, CustomMLP_6", "activations", "the paper's subsampling", "the original's settings"}
    from mnistlib.report.parameters import PROFILES

    seeds = str(PROFILES["smoke"].seeds)  # notebook 6's groups over seeds take the profile's, as the original's grid
    assert answers["variance across seeds", "random seeds"] == seeds and answers["the original's settings", "λ = 1e-2"] in (
        "trains", "collapses")
    headline = json.loads((index.parent / "headlines" / "06_beyond_the_original.json").read_text())
    lenet = answers["variance across seeds", "LeNet-5 mean test accuracy (%)"]
    assert headline["LeNet-5 mean test accuracy across seeds (%)"].startswith(f"{float(lenet):.2f} ± ")
    for table in ("beyond-variance", "beyond-lambda-sweep", "beyond-long", "beyond-activations",
                  "beyond-original-settings"):
        assert (index.parent / f"{table}.csv").exists(), table
    summary = nbformat.read(index.parent / "05_summary.ipynb", as_version=4)
    shown = json.dumps([o for c in summary.cells if c.cell_type == "code" for o in c.outputs], ensure_ascii=False)
    assert "λ sweep, CustomMLP_6" in shown  # the report trained notebook 6's runs first, so the summary shows its answers


def test_recipes_notebook_answers_from_its_runs(smoke_report):
    index, _ = smoke_report
    answers = pd.read_csv(index.parent / "recipes-answers.csv").set_index(["question", "finding"]).value
    assert set(answers.index.get_level_values("question")) == {"how fast", "how fast, in one epoch", "how far",
                                                               "the SGD recipe"}
    fast = pd.read_csv(index.parent / "recipes-fast.csv").set_index("step")
    assert len(fast) == 6 and (fast.seeds == 2).all() and (fast.epochs == 2).all()
    assert answers["how fast", "recipe"] == fast.index[-1]
    assert float(answers["how fast", "final test accuracy, mean over seeds (%)"]) == pytest.approx(fast.final_test_acc.iloc[-1])
    verdict = "met" if fast.lowest_seed.iloc[-1] >= 99.0 else "not met"
    assert answers["how fast", "target 99% (every seed)"] == verdict
    headline = json.loads((index.parent / "headlines" / "08_how_fast_how_far.json").read_text())
    assert headline["target 99% in 2 epochs, every seed"] == verdict
    one = pd.read_csv(index.parent / "recipes-one-epoch.csv").set_index("step")
    assert len(one) == 2 and (one.seeds == 2).all() and (one.epochs == 1).all()
    assert headline["target 99% in 1 epoch, every seed"] == ("met" if one.lowest_seed.iloc[-1] >= 99.0 else "not met")
    assert float(answers["how fast, in one epoch", "lowest of the random seeds (%)"]) == pytest.approx(one.lowest_seed.iloc[-1])
    page = (index.parent / "08_how_fast_how_far.html").read_text()
    assert "smoke</b> profile" in page or "**smoke** profile" in page or "smoke</strong> profile" in page  # says the verdicts need the full profile


def test_reproduction_notebook_answers_from_runs(smoke_report):
    index, _ = smoke_report
    collapses = pd.read_csv(index.parent / "reproduce-collapse.csv")
    published = collapses[collapses.source == "published"]  # the tables a tool reads hold ids
    assert published.collapse_epoch.tolist() == [45]
    assert (collapses.source == "our_protocol").sum() == 2 and (index.parent / "reproduce-original-settings.csv").exists()
    headline = json.loads((index.parent / "headlines" / "07_reproducing_the_original.json").read_text())
    assert headline["CustomMLP_1 runs that collapse, our protocol"] == "0 of 2"  # the smoke profile's 2 seeds
    assert headline["runs of the original's protocol"] == 8  # 3 networks × 2 seeds, and λ = 1e-2 × 2 (λ = 0 is LeNet-5's)
    assert headline["test digits the original's LeNet-5 gets wrong"] == 118  # its logged 98.82%
    original_runs = pd.read_csv(index.parent / "original-runs.csv").set_index("run")
    assert len(original_runs) == 34 and original_runs["collapse epoch"].dropna().to_dict() == {"CustomMLP_1": 45}


def test_widget_state_is_saved_and_the_html_carries_it_with_static_twins(smoke_report):
    from mnistlib.report import webassets

    index, params = smoke_report
    for stem, twins in WIDGET_PAGES.items():
        executed = nbformat.read(index.parent / f"{stem}.ipynb", as_version=4)
        state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        assert any(m["model_name"] == "ImageModel" for m in state.values()), stem
        html = (index.parent / f"{stem}.html").read_text()
        assert "application/vnd.jupyter.widget-state+json" in html and "application/vnd.jupyter.widget-view+json" in html
        if webassets.installed():
            assert '<script src="widgets/embed.js"></script>' in html
        for twin in twins:
            assert (Path(params["figures_dir"]) / "smoke" / f"{stem[:2]}-{twin}.png").exists(), twin
    # the noise slider is saved where the notebook left it: the largest std of the grid
    executed = nbformat.read(index.parent / "04_noise_injection.ipynb", as_version=4)
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    sliders = {m["state"]["description"]: m["state"]["value"] for m in state.values()
               if m["model_name"] == "FloatSliderModel"}
    assert sliders == {"noise std": 0.3, "strength": 1.0}  # the noise preview, and the perturbation viewer
    if webassets.installed():
        bundle = (index.parent / "widgets" / "embed.js").read_text()
        assert "fonts.googleapis.com" not in bundle  # no request leaves the machine


@pytest.mark.browser
def test_pages_load_in_headless_chromium(smoke_report):
    from mnistlib.report import webassets

    chromium_or_skip()
    if not webassets.installed() and os.environ.get("CI"):
        pytest.fail("the widgets' JavaScript is missing: make setup runs python -m mnistlib.report.webassets")
    index, _ = smoke_report
    check_pages(index, [index] + [index.parent / p.with_suffix(".html").name for p in NOTEBOOKS], webassets.installed())


def test_publish_copies_the_pages_with_their_provenance(smoke_report, tmp_path, monkeypatch):
    import mnistlib.report.publish as publishing

    index, _ = smoke_report
    dest = publishing.publish(index.parent, tmp_path / "docs", "smoke")
    names = {p.name for p in dest.iterdir()}
    assert {"index.html", "PROVENANCE.json", *(p.with_suffix(".html").name for p in NOTEBOOKS)} <= names
    assert not any(name.endswith((".ipynb", ".csv", ".log")) for name in names)  # pages only, no plumbing
    record = json.loads((dest / "PROVENANCE.json").read_text())
    assert record["profile"] == "smoke" and record["notebooks_sha256"] == publishing.notebooks_hash()
    assert record["bytes"] == publishing.folder_bytes(dest) - (dest / "PROVENANCE.json").stat().st_size
    # over the size limit: one line, and the copy already published stays as it was
    monkeypatch.setattr(publishing, "MAX_BYTES", 1000)
    with pytest.raises(MnistlibError, match="over the 0 MB a published report may take"):
        publishing.publish(index.parent, dest, "smoke")
    assert json.loads((dest / "PROVENANCE.json").read_text()) == record
    assert not (tmp_path / "docs.new").exists()
    with pytest.raises(MnistlibError, match="no index.html to publish"):
        publishing.publish(tmp_path / "nothing", dest, "smoke")


def test_the_notebooks_hash_changes_with_any_notebook(tmp_path):
    from mnistlib.report.publish import notebooks_hash

    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / path.name)
    assert notebooks_hash(tmp_path) == notebooks_hash()
    first = tmp_path / NOTEBOOKS[0].name
    first.write_bytes(first.read_bytes() + b" ")
    assert notebooks_hash(tmp_path) != notebooks_hash()


def test_bad_parameter_stops_the_report_before_any_work(smoke_report, tmp_path):
    index, params = smoke_report
    runs = Path(params["runs_dir"])
    before = sorted((p.name, (p / "history.csv").read_text()) for p in RunStore(runs).run_folders())
    with pytest.raises(ConfigError, match=r"^notebook parameter weight_decays must be a number, got the text 'abc'"):
        run_report("smoke", {**params, "weight_decays": ["abc"]}, reports_dir=tmp_path, log=lambda line: None)
    assert not (tmp_path / "smoke" / "01_architecture.ipynb").exists()
    assert sorted((p.name, (p / "history.csv").read_text()) for p in RunStore(runs).run_folders()) == before
    assert index.exists()  # the earlier report is untouched


def test_a_notebook_run_alone_checks_its_parameters_in_its_first_cell(smoke_report, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _, params = smoke_report
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(NOTEBOOKS[2]), str(tmp_path / "out.ipynb"), kernel_name="mnistlib",
                                   parameters={**params, "profile": "smoke", "weight_decays": "1e-3"},
                                   progress_bar=False)
    assert info.value.ename == "ConfigError" and info.value.exec_count == 3  # right after the parameters
    assert "weight_decays must be a non-empty list of numbers, got '1e-3'" in info.value.evalue


def test_failing_notebook_stops_the_report_and_keeps_what_came_before(smoke_report, tmp_path):
    index, params = smoke_report
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(NOTEBOOKS[1], folder)
    broken = nbformat.read(NOTEBOOKS[2], as_version=4)
    broken.cells.insert(3, nbformat.v4.new_code_cell("raise RuntimeError('disk on fire')"))
    nbformat.write(broken, folder / "03_broken.ipynb")
    shutil.copy(NOTEBOOKS[3], folder)
    with pytest.raises(ReportError) as info:
        run_report("smoke", params, notebooks=sorted(folder.glob("*.ipynb")), reports_dir=tmp_path / "reports",
                   progress=False, log=lambda line: None)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("03_broken.ipynb failed in cell 4 (RuntimeError: disk on fire); partial notebook kept:")
    out = tmp_path / "reports" / "smoke"
    assert (out / "02_mlp_variants.html").exists()
    assert (out / "03_broken.ipynb").exists() and not (out / "03_broken.html").exists()
    assert not (out / "04_noise_injection.ipynb").exists() and not (out / "index.html").exists()
    log = (out / "logs" / "02_mlp_variants-runs.log").read_text()
    assert "reused from the store" in log and "trained in" not in log  # executing again did not retrain
    trained = (out / "logs" / "training.log").read_text()
    assert "baseline: LeNet-5, 0: reused from the store (lenet5-" in trained and "trained by this report" not in trained


def test_cli_report_errors(capsys, tmp_path):
    from mnistlib.cli import main

    params = tmp_path / "p.yaml"
    params.write_text("weight_decay: 1e-3\n")
    assert main(["report", "--profile", "smoke", "--params", str(params)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mnistlib: error: unknown report parameter 'weight_decay'; valid:") and "\n" not in err
    assert main(["report", "--profile", "huge"]) == 2
    assert "unknown profile 'huge'; choose one of full, quick, smoke" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs,match", [
    ({"profile": "fast"}, "unknown profile .fast.; choose one of full, quick, smoke"),
    ({"epochs": "many"}, "epochs must be an integer, got the text 'many'"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"weight_decays": "1e-3"}, "weight_decays must be a non-empty list"),
    ({"noise_stds": [0.1, -0.2]}, "noise_stds must be >= 0, got -0.2"),
    ({"mlps": ["CustomMLP_9"]}, "unknown model 'CustomMLP_9'"),
    ({"train_subset": 0}, "train_subset must be >= 1"),
    ({"train_subset": "some"}, "train_subset must be None"),
    ({"progress": "yes"}, "progress must be True or False"),
    ({"runs_dir": 3}, "runs_dir must be a folder path"),
    ({"device": "tpu"}, "device must be one of auto, cpu, cuda, mps"),
    ({"original_seeds": 1}, "original_seeds must be >= 2"),  # one seed: no spread to judge by
    ({"original_seeds": "five"}, "original_seeds must be an integer, got the text 'five'"),
])
def test_notebook_parameters_are_checked_first(kwargs, match, monkeypatch):
    import mnistlib.report.context as nb

    monkeypatch.setattr(nb, "load_mnist", lambda *a: pytest.fail("loaded data before checking parameters"))
    with pytest.raises(ConfigError, match=match):
        setup_notebook("00_test", **kwargs)


def test_committed_notebooks_have_no_outputs_and_no_logic():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        tags = [c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"]
        assert tags[0] == ["parameters"], path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
                assert not re.search(r"^\s*(def|class) |for epoch", cell.source, re.M), path.name


def test_a_users_own_grid_from_yaml(tmp_path):
    """The README's example: any notebook parameter from a YAML file, a grid unlike the original's (the
    summary alone: the smoke report runs every notebook from a params file through the command line)."""
    from mnistlib.report.runner import load_params_file

    params = tmp_path / "grid.yaml"
    params.write_text(f"weight_decays: [1.0e-5]\nnoise_stds: [0.05]\nmlps: [CustomMLP_6]\nepochs: 1\n"
                      f"seeds: 2\nlambdas: [1.0e-3]\nlong_factor: 2\nrecipe_seeds: 2\n"
                      f"runs_dir: {tmp_path / 'runs'}\nfigures_dir: {tmp_path / 'figures'}\n")
    run_report("smoke", load_params_file(params), notebooks=[NOTEBOOKS[4]], reports_dir=tmp_path / "r",
               progress=False, workers=0, log=lambda line: None)
    headline = json.loads((tmp_path / "r" / "smoke" / "headlines" / "05_summary.json").read_text())
    assert headline["runs"] == "4 configurations × 2 random seeds"  # LeNet-5, one MLP, one λ, one noise level
    claims = (tmp_path / "r" / "smoke" / "original-claims.csv").read_text()
    assert "λ = 1e-2" not in claims  # claims about runs outside the grid are left out


def test_widget_javascript_is_copied_without_its_web_font_and_is_optional(smoke_report, tmp_path, monkeypatch):
    from mnistlib.report import webassets
    from mnistlib.report.runner import export_html

    fake = tmp_path / "assets"
    fake.mkdir()
    (fake / "embed.js").write_text("a();@import url('https://fonts.googleapis.com/css?family=Roboto+Mono');b();"
                                   "c(\"@import url(\\'https://fonts.googleapis.com/css?family=X\\');\")")
    (fake / "abc.woff2").write_bytes(b"font")
    monkeypatch.setattr(webassets, "asset_dir", lambda: fake)
    assert webassets.copy_to(tmp_path / "out") == "widgets/embed.js"
    copied = (tmp_path / "out" / "widgets" / "embed.js").read_text()
    assert "googleapis" not in copied and copied.startswith("a();b();")
    assert (tmp_path / "out" / "widgets" / "abc.woff2").exists()
    # Without the assets the page still carries the widget state and the static twin, and no script.
    monkeypatch.setattr(webassets, "asset_dir", lambda: tmp_path / "missing")
    assert webassets.copy_to(tmp_path / "out2") is None
    index, _ = smoke_report
    page = tmp_path / "04_noise_injection.ipynb"
    shutil.copy(index.parent / page.name, page)
    html = export_html(page, [], None).read_text()
    assert "application/vnd.jupyter.widget-state+json" in html and "widgets/embed.js" not in html
    assert "data:image/png;base64," in html


def test_pages_have_contents_and_readable_tables(smoke_report):
    from mnistlib import RunConfig
    from mnistlib.report.parameters import PROFILES
    from mnistlib.words import column_text
    from mnistlib.words import optimizer_text

    index, _ = smoke_report
    summary = (index.parent / "05_summary.html").read_text()
    assert '<nav class="mnistlib-toc"' in summary and 'href="#The-results-table"' in summary
    assert column_text("mean_test_acc") in summary and ">mean_test_acc<" not in summary
    settings = (index.parent / "01_architecture.html").read_text()
    # the settings table's long cells in full (pandas cut them at 50 characters before)
    assert f"smoke: {PROFILES['smoke'].description}" in settings
    assert optimizer_text(RunConfig()) in settings and len(optimizer_text(RunConfig())) > 50


def test_one_picture_per_view(smoke_report, tmp_path):
    """A widget's static twin is in the .ipynb (for readers without widgets) and in the HTML only
    where the page cannot draw the widget."""
    from mnistlib.report import webassets
    from mnistlib.report.runner import export_html

    index, _ = smoke_report
    page = tmp_path / "05_summary.ipynb"
    shutil.copy(index.parent / page.name, page)
    executed = nbformat.read(page, as_version=4)
    twins = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
             if o.get("metadata", {}).get("image/png", {}).get("twin")]
    assert len(twins) == 3  # run explorer, mistakes, confusion matrix
    count = lambda html: html.count("data:image/png;base64,")  # noqa: E731
    without_js = count(export_html(page, [], None).read_text())
    with_js = count(export_html(page, [], "widgets/embed.js").read_text())
    assert without_js - with_js == 3
    if webassets.installed():
        assert count((index.parent / "05_summary.html").read_text()) == with_js


def test_seed_means_only_a_random_seed_and_tables_speak_words(smoke_report):
    """No page calls the original "the seed"; headers are words, cells no Python values, contents numbered once."""
    index, _ = smoke_report
    pages = sorted(index.parent.glob("*.html"))
    assert len(pages) == len(NOTEBOOKS) + 1
    assert not [found for page in pages for found in seeds_that_are_not_random_seeds(page)]
    assert not [found for page in pages for found in unreadable_tables(page)]


def test_the_page_checks_can_fail(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<nav class="mnistlib-toc"><ol><li>1. Variance</li></ol></nav><p>as the seed report says, '
                    'over 5 seeds</p><table><tr><th>mean_test_acc</th></tr><tr><td>True</td></tr></table>'
                    '<script>var seed_report = 1;</script>')
    assert len(unreadable_tables(page)) == 3
    (found,) = seeds_that_are_not_random_seeds(page)  # the script's and the 5 seeds' are not counted
    assert "as the seed report says" in found


@pytest.mark.parametrize("profile, test_subset, images", [("quick", None, 2_000), ("smoke", None, 300),
                                                           ("quick", 1_000, 1_000), ("full", None, 10_000)])
def test_the_perturbed_input_analyses_use_the_profiles_share_of_the_test_set(profile, test_subset, images, tmp_path):
    ctx = setup_notebook("04_noise_injection", profile=profile, test_subset=test_subset, runs_dir=str(tmp_path))
    on = ctx.perturbed_on()
    assert ctx.test_images(on) == images
    assert on.epochs == ctx.config().epochs and on.train_subset == ctx.config().train_subset  # only the test set


def _outputs(index, notebook: str) -> list[dict]:
    executed = nbformat.read(index.parent / f"{notebook}.ipynb", as_version=4)
    return [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]


def test_every_figure_but_a_widgets_twin_has_a_caption_under_it(smoke_report):
    index, _ = smoke_report
    for path in NOTEBOOKS:
        outputs = _outputs(index, path.stem)
        for i, output in enumerate(outputs):
            if "image/png" in output.get("data", {}) and not output.get("metadata", {}).get("image/png", {}).get("twin"):
                following = outputs[i + 1] if i + 1 < len(outputs) else {}
                assert 'class="mnistlib-caption"' in following.get("data", {}).get("text/html", ""), \
                    f"{path.name}: figure {output['metadata']['image/png'].get('alt')!r} has no caption"


def test_each_page_shows_the_settings_its_runs_used(smoke_report):
    """Page 7's runs are the original's protocol (batch 10, momentum 0.6) beside ours; page 8's the recipes' (Adam,
    batch 32); pages 1–5 the original's runs over the report's random seeds."""
    from pages import html_table

    index, _ = smoke_report
    settings = {path.stem: html_table(next(o["data"]["text/html"] for o in _outputs(index, path.stem)
                                           if "text/html" in o.get("data", {}))) for path in NOTEBOOKS}
    first = settings["01_architecture"]
    assert list(first.columns) == ["our runs of the original's configurations"] and first.loc["random seeds"].iloc[0] == "0, 1 (2 random seeds)"
    repro = settings["07_reproducing_the_original"]
    assert repro.loc["batch size", "the original's protocol"] == "10" and repro.loc["batch size"].iloc[1] == "64"
    assert "momentum 0.6" in repro.loc["optimizer and loss", "the original's protocol"]
    fast = settings["08_how_fast_how_far"]["how fast: the fast recipe"]
    assert fast["batch size"] == "32" and fast["optimizer and loss"].startswith("Adam") and fast["epochs"] == "2"
    beyond = settings["06_beyond_the_original"]
    assert beyond.loc["random seeds", "λ sweep"] == "0 (1 random seed)"
