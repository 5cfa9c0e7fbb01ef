"""The docs site, read like a person: build a few pages, serve them, open them in headless Chromium.

Every page loads without JavaScript errors; the widgets page shows the motif browser's controls and its frames;
the 3D skeleton snapshot draws something. Screenshots go to `screenshots/` for review.
Set VQMAP_DOCS_DIR to check an existing build (e.g. `_docs`) instead of building one.

And an analysis report (report.html of a tiny model): every figure has a caption, the motif gallery's panels are
readable, and naming a motif there then pressing Download gives a motifs.yaml that `naming` reads.
"""
import contextlib
import functools
import http.server
import io
import os
import re
import threading
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("test_docs_browser")]  # one worker runs this file (its module fixtures are built once)
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "screenshots"
PAGES = ["index", "31_viz", "35_widgets", "03_data.skeleton"]   # index, the two display notebooks, one API page
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-unsafe-swiftshader",
        "--use-angle=swiftshader"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "A folder holding the built site: $VQMAP_DOCS_DIR, or a fresh build of PAGES."
    if os.environ.get("VQMAP_DOCS_DIR"):
        out = Path(os.environ["VQMAP_DOCS_DIR"]).resolve()
        if not (out / "index.html").is_file(): pytest.skip(f"VQMAP_DOCS_DIR={out} holds no index.html")
        return out
    from vqmap_nb.docs import build_site, nb_order
    nbs = REPO / "nbs"
    names = [n for n in PAGES if any(p.stem == n for p in nb_order(nbs))]
    out = tmp_path_factory.mktemp("docs")
    results = build_site(nbs, out, only=names, jobs=2, seconds=300)
    failed = [f"{r.source}: {r.error}" for r in results if r.error]
    assert not failed, "notebooks failed while building the docs:\n" + "\n".join(failed)
    return out


@pytest.fixture(scope="module")
def server(site):
    "The site served on 127.0.0.1 by http.server in a thread; yields its base URL."
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    "Headless Chromium from /usr/bin/chromium through Playwright (never a downloaded browser)."
    if not CHROMIUM.is_file(): pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as pw:   # launch() always starts from a fresh temporary profile
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def open_page(browser, url, wait_ms=3000):
    "Load `url`; returns (page, errors): console errors, uncaught exceptions and failed requests."
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"requestfailed: {r.url}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(wait_ms)
    return page, errors


def shot(page, name, **kw):
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), **kw)
    return path


def non_blank(png: bytes) -> bool:
    "More than one colour in a PNG screenshot."
    from io import BytesIO

    import matplotlib.image as mpimg
    px = mpimg.imread(BytesIO(png), format="png")[..., :3].reshape(-1, 3)
    return bool((px.max(0) - px.min(0)).max() > 0.05)


def pages_of(site):
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if "static" not in p.parts)


def test_every_page_loads_without_js_errors(site, server, browser):
    problems = {}
    for rel in pages_of(site):
        page, errors = open_page(browser, f"{server}/{rel}")
        assert page.locator("nav.vq-sidebar a").count() >= 2, f"{rel}: no sidebar"
        if page.locator(".vq-build-error").count(): errors.append(page.locator(".vq-build-error").inner_text())
        shot(page, rel.replace("/", "_").removesuffix(".html"), full_page=False)
        if errors: problems[rel] = errors
        page.close()
    assert not problems, problems


def test_sidebar_order(site, server, browser):
    page, _ = open_page(browser, f"{server}/index.html", wait_ms=0)
    links = page.locator("nav.vq-sidebar li a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert links[0] == "index.html"
    api = [h for h in links if h != "index.html" and not h.startswith("tutorials/")]
    tut = [h for h in links if h.startswith("tutorials/")]
    assert links == ["index.html"] + api + tut
    page.close()


def _widgets_page(site, server, browser):
    if not (site / "widgets.html").is_file(): pytest.skip("no widgets page (nbs/41_widgets.ipynb not built)")
    return open_page(browser, f"{server}/widgets.html", wait_ms=6000)


def test_motif_browser_controls_and_frames(site, server, browser):
    page, errors = _widgets_page(site, server, browser)
    assert page.locator(".jupyter-widgets select, .widget-dropdown select").count() >= 1, "no dropdown rendered"
    assert page.locator(".jupyter-widgets img, .widget-image").count() >= 1, "no image in the motif browser"
    anim = page.locator(".animation img, .jupyter-widgets .widget-play, .widget-slider")
    assert anim.count() >= 1, "no animation player or frame slider"
    browser_widget = page.locator(".jupyter-widgets select").first
    browser_widget.scroll_into_view_if_needed()
    shot(page, "widgets_motif_browser")
    assert not errors, errors
    page.close()


def test_3d_snapshot_is_drawn(site, server, browser):
    page, _ = _widgets_page(site, server, browser)
    frames = page.locator("iframe")
    if frames.count() == 0: pytest.skip("the widgets page embeds no 3D snapshot iframe")
    frame = frames.first
    frame.scroll_into_view_if_needed()
    page.wait_for_timeout(8000)   # WebGL under swiftshader is slow to draw
    png = frame.screenshot()
    (SHOTS / "widgets_3d_snapshot.png").write_bytes(png)
    assert non_blank(png), "the 3D snapshot iframe is one flat colour"
    canvas = page.frame_locator("iframe").first.locator("canvas")
    assert canvas.count() >= 1, "no canvas inside the snapshot"
    page.close()


# ---------------------------------------------------------------- the analysis report

REPORT_TINY = ["dataset.n_sessions=3", "dataset.seconds=20", "model.width=16", "model.depth=1", "model.code_dim=8",
               "model.n_top=3", "model.n_bottom=2", "model.downsample=8", "dataset.preprocess.window=32",
               "train.epochs=1", "train.progress=false", "dataloader.batch_size=64"]


@pytest.fixture(scope="module")
def report_dir(browser, tmp_path_factory):
    "An analysis folder (codebook + report) of a tiny model, run with a motifs.yaml that names a top code and merges two motifs."
    import yaml

    from vqmap_nb.cli import infer_main, train_main
    d = tmp_path_factory.mktemp("report")
    with contextlib.redirect_stdout(io.StringIO()):
        train_main(["configs/base/vqvae.yaml", f"expdir={d / 'exp'}", *REPORT_TINY])
        (d / "motifs.yaml").write_text(yaml.safe_dump({"top": {0: "first"}, "merge": [["0.0", "0.1"]]}))
        infer_main([str(d / "exp" / "checkpoints" / "best.pt"), "--mode", "codebook", "report", "--names", str(d / "motifs.yaml"),
                    "--anim-frames", "2", "--out", str(d / "out"), "--quiet"])
    assert (d / "out" / "report.html").is_file()
    return d / "out"


def test_report_captions_gallery_and_names_download(browser, report_dir, tmp_path):
    import yaml

    from vqmap_nb.naming import motif_names
    page, errors = open_page(browser, (report_dir / "report.html").as_uri(), wait_ms=500)
    captions = page.locator("figure").evaluate_all(
        "fs => fs.map(f => { const c = f.querySelector(':scope > figcaption'); return c ? c.innerText.trim() : ''; })")
    assert len(captions) >= 3 and all(captions), f"figures without a caption: {[i for i, c in enumerate(captions) if not c]}"
    panels = page.locator("figure.vq-motif")
    assert panels.count() >= 1, "no motif panel in the gallery"
    assert min(panels.locator("img").evaluate_all("is => is.map(i => i.getBoundingClientRect().width)")) >= 200
    for label in panels.locator(".vq-label").all_inner_texts():                       # top.bottom (#id), or the name given
        assert re.fullmatch(r"\d+\.\d+ \(#\d+\)|.+ \(\d+\.\d+, #\d+\)", label), label
    first = panels.first
    key, mid = first.get_attribute("data-key"), int(first.get_attribute("data-id"))
    name = "sniff & rear: 'tall' #1"                                                  # characters YAML cares about
    first.locator("input.vq-name").fill(name)
    assert first.locator(".vq-label").inner_text() == f"{name} ({key}, #{mid})"
    page.locator("input.vq-top-name").last.fill("groom")
    top = int(page.locator("input.vq-top-name").last.get_attribute("data-top"))
    first.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "report_gallery.png"))
    with page.expect_download() as info:
        page.locator("#vq-download").click()
    download = info.value
    assert download.suggested_filename == "motifs.yaml"
    download.save_as(tmp_path / "motifs.yaml")
    names = motif_names(yaml.safe_load((tmp_path / "motifs.yaml").read_text()), 3, 2, "downloaded motifs.yaml")
    assert names.motif_name(mid) == name and names.top_name(top) == "groom"
    assert names.merge == [[0, 1]] and (top == 0 or names.top_name(0) == "first")      # what the page was given is kept
    assert (tmp_path / "report_gallery.png").stat().st_size > 0
    assert not errors, errors
    page.close()
