"""Benchmark: one cold and one warm cycle over the shared feed corpus served on loopback.

Every feed of ../shared/data/feeds is served by a local threaded server (with validators), one
source each; article fetching is off. Cold: everything is new (fetch, parse, dedup, detect, store,
outbox). Warm: nothing changed (304s). The floor, measured in the same run, is a plain httpx loop
that fetches the same URLs and does nothing with the bytes. Prints figures; asserts nothing.
"""

from __future__ import annotations

import io
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir, feed_files
from service import app
from service import settings as config
from service.deliver.console import ConsoleDeliverer
from service.pipeline import run_cycle
from tests.support.servers import Page, Site


def main() -> None:
    files = feed_files()
    if not files:
        print(f"skipped: no corpus at {data_dir()}")
        return
    site = Site()
    for i, path in enumerate(files):
        site.pages[f"/{i}.xml"] = Page(path.read_bytes(), content_type="application/xml")
    urls = [f"{site.url}/{i}.xml" for i in range(len(files))]
    tmp = Path(tempfile.mkdtemp())
    cfg = tmp / "config"
    cfg.mkdir()
    (cfg / "sources.yaml").write_text(
        "sources:\n" + "".join(f"  - {{name: 'feed {i}', url: '{u}'}}\n" for i, u in enumerate(urls))
    )
    (cfg / "settings.yaml").write_text(
        f"store: {tmp / 'bench.db'}\narticle_fetch: false\nfetch: {{per_host: 16, per_host_spacing: 0}}\n"
    )
    (cfg / "topics.yaml").write_text((Path(__file__).resolve().parents[1] / "config" / "topics.yaml").read_text())
    settings = config.load(cfg, env={})

    started = time.perf_counter()
    with httpx.Client() as client:
        for u in urls:
            client.get(u).read()
    floor = time.perf_counter() - started

    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        started = time.perf_counter()
        cold = run_cycle(ctx, settings.sources)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = run_cycle(ctx, settings.sources)
        warm_s = time.perf_counter() - started
        stored = ctx.store.item_count()
        outbox = ctx.store.outbox_counts()
    site.close()
    items = sum(r.items for r in cold)
    errors = sum(1 for r in cold if r.status == "error")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"cycle over the corpus: {len(files)} feeds on loopback, {settings.fetch.workers} workers")
    print(f"  floor (httpx loop, bytes only)  {floor:6.2f} s")
    print(
        f"  cold cycle                      {cold_s:6.2f} s  {items} items parsed ({items / cold_s:,.0f}/s), "
        f"{stored} stored, {errors} sources failed, outbox {outbox}  ratio to floor {cold_s / floor:.1f}x"
    )
    print(
        f"  warm cycle (all 304)            {warm_s:6.2f} s  "
        f"{sum(1 for r in warm if r.status == 'not-modified')} not modified  ratio to floor {warm_s / floor:.1f}x"
    )
    print(f"  peak RSS                        {rss:6.0f} MB")


if __name__ == "__main__":
    main()
