"""The browser demo: export.web_demo's folder, run in headless Chromium (Playwright), against
ai-edge-litert on the same .tflite files.

Needs Chromium (Debian's `chromium`), the Python `playwright` package (driving that browser; no
browser download) and LiteRT.js (npm `@litertjs/core`, which `export.web_demo` installs into
the cache with npm). `.ci/run` and README's test command install all three; where one is
missing the browser tests skip, naming it.
"""

import os

import numpy as np
import pytest

from export import web_demo
from vitgan_tf.models import Generator

def _missing_browser():
    try:
        web_demo.find_browser_driver()  # Playwright and the system Chromium, as --screenshot needs
    except FileNotFoundError as error:
        return str(error)
    return None


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    try:
        litert = web_demo.find_litert()
    except FileNotFoundError as error:
        pytest.skip(f"web demo tests skipped: LiteRT.js is not available: {error}")
    import keras

    keras.utils.set_random_seed(0)
    gen = Generator.from_architecture("tiny", image_size=16, channels=1)
    for seed in range(3):  # w_avg off zero, as after training
        gen(np.random.default_rng(seed).normal(size=(8, gen.z_dim)).astype("float32"), training=True)
    out = str(tmp_path_factory.mktemp("web") / "demo")
    meta = web_demo.build(gen, out, litert)
    return {"out": out, "meta": meta, "generator": gen}


def litert_pixels(path, z, psi):
    """uint8 RGB pixels of ai-edge-litert's output, with the export's post-processing."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    out = runner(z=z[None].astype("float32"), truncation_psi=np.array([psi], "float32"))
    return out["images"][0], out["images_float"][0]


def test_folder_layout(demo):
    out, meta = demo["out"], demo["meta"]
    assert sorted(meta["files"]) == ["float32", "int8"]
    for name in ("index.html", "app.js", "model.json", "vitgan_float32.tflite", "vitgan_int8.tflite",
                 "litert/core/index.js", "litert/wasm-utils/index.js"):
        assert os.path.isfile(os.path.join(out, name)), name
    for name in web_demo.WASM_FILES:
        assert os.path.isfile(os.path.join(out, "litert", "core", "wasm", name)), name
    html = open(os.path.join(out, "index.html")).read()
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    # The static-batch export equals the generator (truncated) within float32 round-off.
    gen = demo["generator"]
    z = np.random.default_rng(3).normal(size=(gen.z_dim,)).astype("float32")
    images, floats = litert_pixels(os.path.join(out, "vitgan_float32.tflite"), z, 0.6)
    np.testing.assert_allclose(floats, gen.generate(z[None], 0.6).numpy()[0], atol=1e-4)


def test_page_pixels_equal_litert_in_chromium(demo, tmp_path):
    missing = _missing_browser()
    if missing:
        pytest.skip(f"browser test skipped: {missing}")
    from playwright.sync_api import sync_playwright

    out, gen = demo["out"], demo["generator"]
    requests = []
    with web_demo.serve(out) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=web_demo.find_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{url}/index.html?accelerator=wasm")
            page.wait_for_function("window.vitganReady === true", timeout=120_000)
            assert not errors, errors
            assert page.evaluate("window.vitgan.accelerator") == "wasm"
            assert "WASM" in page.inner_text("#backend")
            assert "ms" in page.inner_text("#latency")
            assert page.locator("#grid canvas").count() == 16
            for seed, psi in ((0, 1.0), (5, 0.5)):
                z = np.array(page.evaluate(f"Array.from(window.vitgan.latents({seed}, {gen.z_dim}))"),
                             "float32")
                shown = np.array(page.evaluate(f"window.vitgan.canvasPixels({z.tolist()}, {psi})"),
                                 np.int64).reshape(16, 16, 3)
                expected, _ = litert_pixels(os.path.join(out, "vitgan_float32.tflite"), z, psi)
                # Grey images: each canvas pixel repeats the one channel.
                np.testing.assert_array_equal(shown[..., 0], shown[..., 2])
                assert np.abs(shown[..., 0] - expected[..., 0].astype(np.int64)).max() <= 1, (seed, psi)
        finally:
            browser.close()
    assert all(r.startswith(url) for r in requests), [r for r in requests if not r.startswith(url)]
    # The docs' screenshot command (`--screenshot`): the page as drawn, and what it reports.
    shown = web_demo.screenshot(out, str(tmp_path / "web_demo.png"))
    assert "WASM" in shown["backend"] and "ms" in shown["latency"]
    from PIL import Image

    with Image.open(tmp_path / "web_demo.png") as shot:
        pixels = np.asarray(shot.convert("L"))
    assert shot.size[0] == 900 and pixels.std() > 10  # a drawn page, not a blank one


def test_bad_input(tmp_path, capsys):
    assert web_demo.main(["--generator", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "o"),
                          "--litert-dir", str(tmp_path)]) == 2
    assert "--litert-dir" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert web_demo.main(["--generator", "g.keras", "--out", str(tmp_path / "full")]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
