"""The edge demo in a browser: a static folder that runs a generator's `.tflite` with LiteRT.js.

    python -m export.web_demo --preset vitgan_fashion_mnist --out web_demo
    python -m export.web_demo --run RUN --out web_demo
    python -m http.server --directory web_demo 8000    # then open http://localhost:8000
    python -m export.web_demo --preset vitgan_fashion_mnist --out web_demo --screenshot shot.png

The folder holds the generator exported with a static batch of 1 and a
`truncation_psi` input (`vitgan_float32.tflite`, and `vitgan_int8.tflite`
with int8 weights), `model.json` (shapes, files, the post-processing),
`index.html` + `app.js` (a grid of samples from a seed, a seed box, a
latent-interpolation slider between two seeds, a truncation slider, the
latency per image and the backend: WebGPU when the browser has it, else
WASM; `?accelerator=wasm` forces WASM, `?variant=int8` the int8 file), and
LiteRT.js (npm `@litertjs/core`, its ES modules and WASM files copied in:
the page fetches nothing from elsewhere; an import map resolves the bare
module names). LiteRT.js comes from `--litert-dir` (a `node_modules/@litertjs`
folder), else from the cache, where `npm` installs the pinned version the
first time. `--screenshot PNG` also opens the page in headless Chromium
(Playwright driving the system browser), waits until it has drawn, and
saves a screenshot.
"""

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time

import vitgan_tf  # noqa: F401  (first: it imports TensorFlow quietly, vitgan_tf.native_log)

from vitgan_tf.io import check_new_folder

LITERT_VERSION = "2.5.3"
PAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
PAGE_FILES = ("index.html", "app.js")
# The LiteRT.js WASM builds that `loadLiteRt(dir)` picks without threads or JSPI: with and
# without relaxed SIMD.
WASM_FILES = ("litert_wasm_internal.js", "litert_wasm_internal.wasm",
              "litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm")
WEB_VARIANTS = ("float32", "int8")


def litert_cache_dir():
    from vitgan_tf.metrics.inception_weights import cache_dir  # noqa: PLC0415

    return os.path.join(cache_dir(), f"litertjs-{LITERT_VERSION}")


def find_litert(litert_dir=None, install=True):
    """The `node_modules/@litertjs` folder holding `core` and `wasm-utils`.

    Without `litert_dir`: the cache's, installed there with `npm` (the pinned
    version) when missing and `install`. `FileNotFoundError` with the
    command to run otherwise.
    """
    def complete(folder):
        return (os.path.isfile(os.path.join(folder, "core", "dist", "index.js"))
                and os.path.isfile(os.path.join(folder, "wasm-utils", "dist", "index.js"))
                and all(os.path.isfile(os.path.join(folder, "core", "wasm", f)) for f in WASM_FILES))

    if litert_dir is not None:
        if not complete(litert_dir):
            raise FileNotFoundError(f"--litert-dir {litert_dir!r} is not a node_modules/@litertjs "
                                    "folder with core/dist, core/wasm and wasm-utils/dist")
        return litert_dir
    prefix = litert_cache_dir()
    folder = os.path.join(prefix, "node_modules", "@litertjs")
    if complete(folder):
        return folder
    command = ["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix,
               f"@litertjs/core@{LITERT_VERSION}"]
    if install and shutil.which("npm"):
        print(f"web_demo: installing LiteRT.js: {' '.join(command)}", flush=True)
        os.makedirs(prefix, exist_ok=True)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0 and complete(folder):
            return folder
        raise FileNotFoundError(f"npm could not install LiteRT.js ({done.stderr.strip()[-300:]}); "
                                "pass --litert-dir")
    raise FileNotFoundError(f"LiteRT.js is not installed: run `{' '.join(command)}`, or pass "
                            "--litert-dir node_modules/@litertjs")


def copy_litert(litert_dir, out):
    """Copies LiteRT.js's ES modules and WASM builds into `out/litert/`."""
    core, utils = os.path.join(out, "litert", "core"), os.path.join(out, "litert", "wasm-utils")
    os.makedirs(os.path.join(core, "wasm"))
    os.makedirs(utils)
    shutil.copy2(os.path.join(litert_dir, "core", "dist", "index.js"), core)
    shutil.copy2(os.path.join(litert_dir, "wasm-utils", "dist", "index.js"), utils)
    for name in WASM_FILES:
        shutil.copy2(os.path.join(litert_dir, "core", "wasm", name), os.path.join(core, "wasm"))
    for package in ("core", "wasm-utils"):  # their licences travel with them
        for name in ("LICENSE", "package.json"):
            source = os.path.join(litert_dir, package, name)
            if os.path.isfile(source):
                shutil.copy2(source, os.path.join(out, "litert", package, name))


def build(generator, out, litert_dir, variants=WEB_VARIANTS, source=None):
    """Writes the demo folder `out` (new or empty) for `generator`; returns `model.json`'s dict."""
    from export import common  # noqa: PLC0415
    from export.tflite import convert  # noqa: PLC0415

    unknown = sorted(set(variants) - set(WEB_VARIANTS))
    if unknown or not variants:
        raise ValueError(f"Expected --variants among {WEB_VARIANTS}. Received: {list(variants)}")
    if generator.w_avg is None:
        raise ValueError(f"{generator.name} keeps no w_avg (saved before it existed): the page's "
                         "truncation slider needs it; re-save it from a current training run")
    check_new_folder(out)
    files = {}
    flatbuffers = {v: convert(generator, v, batch_size=1, truncation=True) for v in variants}
    os.makedirs(out, exist_ok=True)
    for variant, flatbuffer in flatbuffers.items():
        files[variant] = f"vitgan_{variant}.tflite"
        with open(os.path.join(out, files[variant]), "wb") as f:
            f.write(flatbuffer)
    meta = {"z_dim": int(generator.z_dim), "image_size": int(generator.image_size),
            "channels": int(generator.channels), "files": files, "litert_version": LITERT_VERSION,
            "inputs": "z float32 [1, z_dim], truncation_psi float32 [1]",
            "outputs": "images uint8 [1, H, W, C], images_float float32 [1, H, W, C]",
            "postprocessing": common.POSTPROCESSING,
            "latents": "z of seed s: mulberry32(s) uniforms, Box-Muller normals (app.js `latents`)",
            "source": os.path.abspath(source) if source else None}
    common.write_json(os.path.join(out, "model.json"), meta)
    for name in PAGE_FILES:
        shutil.copy2(os.path.join(PAGE_DIR, name), out)
    copy_litert(litert_dir, out)
    return meta


def load_source(args):
    """The generator named by --preset, --run or --generator, and its path."""
    from vitgan_tf.models import Generator, load_generator  # noqa: PLC0415
    from vitgan_tf.runs import RunFolder  # noqa: PLC0415

    if args.preset:
        return Generator.from_preset(args.preset), args.preset
    if args.run:
        path = RunFolder(args.run).require_checkpoint("ema_generator")
        return load_generator(path), path
    return load_generator(args.generator), args.generator


@contextlib.contextmanager
def serve(folder):
    """Serves `folder` over HTTP on a free local port in a thread; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def find_chromium():
    """The system Chromium's path; `FileNotFoundError` naming the package otherwise."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise FileNotFoundError("Chromium is not installed (apt-get install chromium)")
    return path


def find_browser_driver():
    """Playwright's sync API and the system Chromium's path; `FileNotFoundError` naming what
    is missing."""
    try:
        from playwright import sync_api  # noqa: PLC0415
    except ImportError:
        raise FileNotFoundError("the Python package playwright is not installed "
                                "(pip install playwright)") from None
    return sync_api, find_chromium()


def screenshot(folder, path, query="accelerator=wasm", timeout_s=120):
    """Opens the demo `folder` in headless Chromium, waits until the page has drawn its grid,
    and saves a PNG screenshot at `path`; returns what the page shows as backend and latency.

    `RuntimeError` (with the page's first error, if it raised one) when the browser or the
    page fails or the page is not ready within `timeout_s`.
    """
    sync_api, chromium = find_browser_driver()
    errors = []
    with serve(folder) as url, sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        except sync_api.Error as error:
            raise RuntimeError(f"Chromium ({chromium}) did not start: {error.message}") from None
        try:
            page = browser.new_page(viewport={"width": 900, "height": 760})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{url}/index.html?{query}")
            deadline = time.monotonic() + timeout_s
            while True:  # ready, or the page's first error, or the deadline: whichever comes first
                if errors:
                    raise RuntimeError(f"the page failed: {errors[0]}")
                try:
                    page.wait_for_function("window.vitganReady === true", timeout=1000)
                    break
                except sync_api.TimeoutError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the page was not ready after {timeout_s} s") from None
            page.screenshot(path=path, full_page=True)
            return {"backend": page.inner_text("#backend"), "latency": page.inner_text("#latency")}
        except sync_api.Error as error:  # a timeout, a crashed page
            detail = f" (the page's first error: {errors[0]})" if errors else ""
            raise RuntimeError(f"the page did not finish: {error.message.splitlines()[0]}{detail}") from None
        finally:
            browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.web_demo", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset with weights (a built-in name or a folder)")
    source.add_argument("--run", help="a training run folder (its EMA generator)")
    source.add_argument("--generator", help="a .keras generator file")
    parser.add_argument("--out", required=True, help="the demo folder to write (new or empty)")
    parser.add_argument("--variants", nargs="+", choices=WEB_VARIANTS, default=list(WEB_VARIANTS))
    parser.add_argument("--litert-dir", help="a node_modules/@litertjs folder (default: the cache's; "
                                             "npm installs it there when missing)")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="also open the page in headless Chromium and save a screenshot here")
    args = parser.parse_args(argv)
    try:
        check_new_folder(args.out)  # before npm and the model: nothing is done for a bad --out
        if args.screenshot:
            from vitgan_tf.io import check_output_file  # noqa: PLC0415

            check_output_file(args.screenshot, flag="--screenshot")
            find_browser_driver()  # before the export: nothing is built without the browser
        litert = find_litert(args.litert_dir)
        generator, path = load_source(args)
        meta = build(generator, args.out, litert, args.variants, source=path)
        shown = screenshot(args.out, args.screenshot) if args.screenshot else None
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # the page itself failed in the browser
        print(f"error: {error}", file=sys.stderr)
        return 1
    if shown:
        print(f"screenshot {args.screenshot}: {shown['backend']}, {shown['latency']}")
    print(f"wrote {args.out}: {', '.join(meta['files'].values())}, index.html, LiteRT.js "
          f"{LITERT_VERSION}; serve it with `python -m http.server --directory {args.out} 8000`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
