"""Open every page of the built documentation site in headless Chromium and check it.

    mkdocs build --strict && python scripts/check_site.py [--site site]

The site is served from a local HTTP server; each page is loaded in Chromium (Debian's
``chromium`` and ``chromium-driver`` packages, driven through selenium) and checked for:

* maths: MathJax loaded from the site, finished typesetting, and reported no error (no
  TeX error recorded by the site's MathJax configuration, no ``mjx-merror`` element, and
  no maths left as raw TeX);
* requests: none left the local server (every URL the page requested, scripts, styles,
  fonts and images included, is on the site), and none failed (HTTP status >= 400 or a
  network error);
* images: every ``<img>`` loaded (complete, with a non-zero natural width);
* console: no error in the browser's console.

Prints one row per page and exits 1 if any page fails a check, 2 if the check cannot run.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

PAGE_TIMEOUT_S = 60

# Runs in the page: wait for MathJax's typesetting, then report what the checks need.
_INSPECT = """
const done = arguments[arguments.length - 1];
const report = (mathjax) => {
  const images = Array.from(document.images);
  const raw = Array.from(document.querySelectorAll('.arithmatex'))
    .filter((el) => !el.querySelector('mjx-container'));
  done({
    mathjax: mathjax,
    math: document.querySelectorAll('mjx-container').length,
    arithmatex: document.querySelectorAll('.arithmatex').length,
    errors: document.querySelectorAll('mjx-merror').length,
    messages: (window.mathjaxErrors || []).slice(0, 3),
    tex_errors: (window.mathjaxErrors || []).length,
    raw: raw.slice(0, 3).map((el) => el.textContent.slice(0, 60)),
    raw_count: raw.length,
    images: images.length,
    broken: images.filter((img) => !img.complete || img.naturalWidth === 0)
      .map((img) => img.getAttribute('src')),
  });
};
const wait = () => {
  if (document.readyState !== 'complete') { setTimeout(wait, 50); return; }
  if (!document.querySelector('.arithmatex')) { report('not needed'); return; }
  if (!window.MathJax || !window.MathJax.startup || !window.MathJax.startup.promise) {
    setTimeout(wait, 50); return;
  }
  window.MathJax.startup.promise.then(() => report('ok'), (e) => report('failed: ' + e));
};
wait();
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class's signature
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise RuntimeError("needs Chromium and its driver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    driver.execute_cdp_cmd("Network.enable", {})
    return driver


def network(driver, base: str) -> tuple[list[str], list[str]]:
    """(requests that left the site, requests that failed) since the last call."""
    outside, failed, urls = [], [], {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and not url.startswith(base):
                outside.append(url)
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            if status >= 400:
                failed.append(f"{status} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{params.get('errorText', 'failed')} {urls.get(params['requestId'], '?')}")
    return sorted(set(outside)), sorted(set(failed))


def check_page(driver, base: str, path: str) -> dict:
    driver.get(base + path)
    found = driver.execute_async_script(_INSPECT)
    outside, failed = network(driver, base)
    console = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    problems = []
    if found["mathjax"] not in ("ok", "not needed"):
        problems.append(f"MathJax {found['mathjax']}")
    if found["errors"] or found["tex_errors"]:
        problems.append(f"{max(found['errors'], found['tex_errors'])} MathJax errors, "
                        f"e.g. {found['messages']}")
    if found["raw_count"]:
        problems.append(f"{found['raw_count']} formulas left as TeX, e.g. {found['raw']}")
    if found["broken"]:
        problems.append(f"images not loaded: {found['broken']}")
    if outside:
        problems.append(f"requests leaving the site: {outside}")
    if failed:
        problems.append(f"failed requests: {failed}")
    if console:
        problems.append(f"console errors: {console}")
    return {"page": path or "/", **found, "outside": len(outside), "failed": len(failed),
            "console": len(console), "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=Path("site"), help="the built site (mkdocs build)")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    pages = sorted(str(page.relative_to(site).parent) + "/" for page in site.rglob("index.html")
                   if "assets" not in page.relative_to(site).parts)
    pages = ["" if page == "./" else page for page in pages]
    if not pages:
        print(f"check_site: no index.html under {site}: build the site first (mkdocs build)",
              file=sys.stderr)
        return 2
    server, base = serve(site)
    try:
        driver = browser()
    except Exception as error:  # noqa: BLE001 - reported as the reason the check cannot run
        print(f"check_site: cannot start Chromium: {error}", file=sys.stderr)
        server.shutdown()
        return 2
    rows = []
    try:
        for page in pages:
            try:
                rows.append(check_page(driver, base, page))
            except Exception as error:  # noqa: BLE001 - a page that cannot be checked fails
                rows.append({"page": page or "/", "math": 0, "errors": 0, "images": 0, "broken": [],
                             "outside": 0, "failed": 0, "console": 0,
                             "problems": [f"{type(error).__name__}: {error}"]})
    finally:
        driver.quit()
        server.shutdown()

    width = max(len(row["page"]) for row in rows)
    print(f"{'page':<{width}}  {'maths':>5}  {'mjx err':>7}  {'images':>7}  {'outside':>7}  "
          f"{'failed':>6}  {'console':>7}  result")
    for row in rows:
        images = f"{row['images'] - len(row['broken'])}/{row['images']}"
        errors = max(row["errors"], row.get("tex_errors", 0))
        print(f"{row['page']:<{width}}  {row['math']:>5}  {errors:>7}  {images:>7}  "
              f"{row['outside']:>7}  {row['failed']:>6}  {row['console']:>7}  "
              f"{'ok' if not row['problems'] else 'FAIL'}")
    bad = [row for row in rows if row["problems"]]
    for row in bad:
        for problem in row["problems"]:
            print(f"{row['page']}: {problem}", file=sys.stderr)
    total_math = sum(row["math"] for row in rows)
    print(f"{len(rows)} pages, {total_math} formulas typeset, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
