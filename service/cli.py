"""The `newsalert` command: parses arguments, calls app and the stages, prints results; nothing else."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service import app, logs, opml, replay
from service import settings as config
from service.deliver.blocks import console_text, fallback_text, render
from service.deliver.console import ConsoleDeliverer
from service.deliver.text import explain
from service.detect import Document, detect
from service.errors import ConfigError, NewsalertError
from service.models import Item, Match, Source
from service.pipeline import alerts_for, analyze, fetch_article
from service.schema import parse_duration
from service.sources._dates import parse_date
from service.store.llm_cache import LLMCache
from service.store.stories import StoryStore
from service.stories import cluster

EPILOG = "Configuration is read from --config (default: $NEWSALERT_CONFIG or ./config)."


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsalert", description="Self-hosted AI news alerts for Slack.", epilog=EPILOG)
    p.add_argument("--config", type=Path, help="configuration directory (settings.yaml, sources.yaml, topics.yaml)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon: poll every source on schedule and deliver alerts")
    run.add_argument("--once", action="store_true", help="one cycle of every source, deliver, exit")
    sub.add_parser("check", help="validate the configuration; list sources, topics and routes")
    sources = sub.add_parser("sources", help="show sources' state, or import an OPML file")
    sources_sub = sources.add_subparsers(dest="sources_command", metavar="ACTION")
    imp = sources_sub.add_parser("import", help="add the feeds of an OPML file (to config/sources.d/)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--interval", help="poll interval for the imported sources, e.g. 30m")
    det = sub.add_parser("detect", help="match topics on a JSON-lines file of items; one result line per item")
    det.add_argument("file", type=Path, help='lines of {"id","title","summary","text","url","published"}; - for stdin')
    sto = sub.add_parser("stories", help="cluster a JSON-lines file of items into stories, as if every item alerted")
    sto.add_argument("file", type=Path, help="the detect input shape; - for stdin")
    sto.add_argument("--explain", action="store_true", help="add why each item joined its story")
    pre = sub.add_parser("preview", help="fetch, extract, detect and summarize one article; print the message")
    pre.add_argument("url")
    pre.add_argument("--json", action="store_true", help="print the Slack Block Kit payload instead of text")
    pre.add_argument("--lang", help="write the brief in this language (en, ko, ja, ...; needs an LLM)")
    topics = sub.add_parser("topics", help="tune topics: replay stored items through the current rules")
    topics_sub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    replay = topics_sub.add_parser("test", help="print what TOPIC would have alerted on the stored history")
    replay.add_argument("topic", help="a topic id from topics.yaml")
    replay.add_argument("--since", default="7d", help="how far back to replay (e.g. 24h, 7d; default 7d)")
    train = topics_sub.add_parser("train", help="train the topic model (the learned layer) from label files")
    train.add_argument("labels", type=Path, nargs="+", help='JSON-lines label files ({"id"|"title",..., "topics"})')
    train.add_argument("--corpus", type=Path, action="append", default=[], help="items that label ids refer to")
    train.add_argument("--out", type=Path, help="the model file to write (default: the configured topic_model)")
    train.add_argument("--held-out", action="store_true", help='also train on lines marked "split": "held-out"')
    rep = sub.add_parser("replay", help="replay a JSON-lines file of items through the pipeline, on their own clock")
    rep.add_argument("file", type=Path, help="lines of {title, link, published, summary, text, feed_title}")
    rep.add_argument("--day", help="only items published on this UTC day (YYYY-MM-DD)")
    rep.add_argument("--store", type=Path, help="the SQLite file to replay into (default: a temporary file)")
    rep.add_argument("--slack", action="store_true", help="post to the configured Slack instead of the console")
    sub.add_parser("status", help="show the outbox: pending, sent and failed alerts")
    sub.add_parser("retry", help="make every alert waiting for a later attempt due now (after fixing a token or route)")
    sub.add_parser("health", help="exit 0 if the daemon's delivery job ran recently (Docker HEALTHCHECK)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = config.load(args.config)
        logs.setup(args.log_level, settings.secrets(), settings.log_format)
        return int(COMMANDS[args.command](args, settings) or 0)
    except ConfigError as e:
        print(f"newsalert: configuration error:\n{e}", file=sys.stderr)
        return 2
    except NewsalertError as e:
        print(f"newsalert: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a file named on the command line, or the store's, cannot be read or written
        print(f"newsalert: {e.filename or ''}: {e.strerror or e}".lstrip(": "), file=sys.stderr)
        return 1
    except sqlite3.Error as e:
        print(f"newsalert: the store: {e}", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace, settings: config.Settings) -> int:
    with app.context(settings) as ctx:
        if not args.once:
            app.run_daemon(ctx)
            return 0
        reports = app.run_once(ctx)
    return 1 if reports and all(r.status == "error" for r in reports) else 0


def cmd_check(_: argparse.Namespace, settings: config.Settings) -> int:
    slack = settings.slack
    target = (
        "slack bot (token set)" if slack.bot_token else "slack webhook (URL set)" if slack.webhook_url else "console"
    )
    print(f"configuration OK: {settings.config_dir}")
    print(f"store: {settings.store_path}\ndelivery: {target}\n\nsources ({len(settings.sources)}):")
    for s in settings.sources:
        print(f"  {s.name:<40} {s.kind:<5} {_cadence(s):<22} {s.url}")
    print(f"\ntopics ({len(settings.topics)}):")
    for t in settings.topics:
        layer = "rules + model" if settings.model and settings.model.covers(t.id) else "rules"
        print(f"  {t.id:<16} {len(t.rules)} rule(s), {layer}, min score {t.min_score:g}: {t.description[:60]}")
    if settings.model:
        m = settings.model
        print(f"topic model {m.id} (trained {m.trained}): covers {', '.join(m.topics)}; {len(m.weights)} features")
    else:
        print("topic model: none (rules alone; `newsalert topics train` makes one)")
    print(f"\nroutes (default {slack.default_channel}):")
    for topic, channel in slack.routes.items():
        print(f"  {topic:<16} -> {channel}")
    for channel, policy in slack.channels.items():
        quiet = f", quiet {'-'.join(policy.quiet_hours)}" if policy.quiet_hours else ""
        digest = f", {policy.digest} digest" if policy.delivery != "realtime" else ""
        print(f"  {channel}: {policy.delivery}{digest}{quiet} ({policy.timezone})")
    return 0


def _cadence(s: Source) -> str:
    if s.cron:
        return f"cron {s.cron}"
    if s.pinned:
        return f"every {s.interval_seconds // 60}m"
    return f"adaptive {s.min_interval // 60}m-{s.max_interval // 3600}h"


def cmd_sources(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.sources_command == "import":
        report = opml.import_opml(settings.config_dir, args.file, args.interval)
        print(f"added {report.added} source(s) to {report.path} ({report.skipped} already configured)")
        return 0
    now = app.utc_now()
    with app.context(settings) as ctx:
        rows = {r["name"]: r for r in ctx.store.sources_report(now)}
    print(
        f"{'name':<32} {'kind':<5} {'status':<8} {'last success':>12} {'errs':>4} {'next poll':>9}"
        f" {'items 7d':>8} {'avg delay':>9}  last error"
    )
    for s in settings.sources:
        r: dict[str, Any] = rows.get(s.name, {})
        status = (
            "new" if not r else r["health"] if r["health"] == "down" else "failing" if r["consecutive_errors"] else "ok"
        )
        last = _age(now, r.get("last_success"))
        next_poll = _span(r["next_poll_at"] - now.timestamp()) if r.get("next_poll_at") else "-"
        delay = _span(r["avg_delay"]) if r.get("avg_delay") is not None else "-"
        error = (r.get("last_error") or "")[:60] if r.get("consecutive_errors") else ""
        print(
            f"{s.name[:32]:<32} {s.kind:<5} {status:<8} {last:>12} {r.get('consecutive_errors', 0):>4}"
            f" {next_poll:>9} {r.get('items_7d', 0):>8} {delay:>9}  {error}"
        )
    return 0


def _span(seconds: float) -> str:
    """A duration for a table: 45s, 12m, 3.5h, 2.0d (negative means overdue)."""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 90:
        return f"{sign}{seconds:.0f}s"
    if seconds < 5400:
        return f"{sign}{seconds / 60:.0f}m"
    return f"{sign}{seconds / 3600:.1f}h" if seconds < 172800 else f"{sign}{seconds / 86400:.1f}d"


def _age(now: datetime, iso: str | None) -> str:
    return _span((now - datetime.fromisoformat(iso)).total_seconds()) + " ago" if iso else "never"


def _match_json(m: Match) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.topic, "score": m.score, "matched": list(m.matched)}
    if m.event:
        out.update(event=m.event, evidence=m.evidence)
    if m.model:
        out.update(model=m.model)
    return out


def _objects(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (`-` is stdin); a bad line is an error with its place."""
    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    with stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise NewsalertError(f"{path}:{number}: not UTF-8 (byte {e.start} of the line)") from e
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                raise NewsalertError(f"{path}:{number}: not JSON: {getattr(e, 'msg', e)}") from e
            if not isinstance(row, dict):
                raise NewsalertError(f"{path}:{number}: not a JSON object")
            yield row


def _document(row: dict[str, Any]) -> Document:
    return Document(
        str(row.get("title") or ""),
        str(row.get("summary") or ""),
        str(row.get("text") or row.get("content_text") or ""),
    )


def cmd_detect(args: argparse.Namespace, settings: config.Settings) -> int:
    for row in _objects(args.file):
        topics = [_match_json(m) for m in detect(settings.topics, _document(row), settings.entities, settings.model)]
        print(json.dumps({"id": row.get("id"), "topics": topics}, ensure_ascii=False))
    return 0


def cmd_stories(args: argparse.Namespace, settings: config.Settings) -> int:
    """Cluster every item of the file as the daemon would if each one alerted; `{"id","story"}` a line."""
    now = app.utc_now()
    rows = list(_objects(args.file))
    feats = []
    df = cluster.DocumentFrequencies()
    for i, row in enumerate(rows):
        doc = _document(row)
        lead = doc.summary or doc.text
        published = parse_date(row.get("published"), now) or now
        feats.append(cluster.features(doc.title, lead, published, settings.entities, key=str(i)))
        df.docs += 1
        for term in cluster.index_terms(doc.title, lead, settings.entities):
            df.df[term] = df.df.get(term, 0) + 1
    for joined in cluster.stream(feats, df):
        row = rows[int(joined.key)]
        out: dict[str, Any] = {"id": row.get("id"), "story": rows[int(joined.story)].get("id")}
        if args.explain:
            out["why"] = [m.why() for m in joined.matches] or "starts the story"
        print(json.dumps(out, ensure_ascii=False))
    return 0


def cmd_preview(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.lang:
        settings = dataclasses.replace(settings, language=args.lang)
    with app.context(settings) as ctx:
        article = fetch_article(ctx, args.url)
        if article is None:
            raise NewsalertError(f"could not fetch or extract {args.url}")
        host = urlsplit(args.url).hostname or "preview"
        source = Source(name=host, kind="feed", url=args.url, interval_seconds=0, fetch_articles=False)
        item = Item(
            source=host,
            guid=args.url,
            url=article.canonical_url or args.url,
            title=article.title,
            content=article.text,
            published=article.published,
        )
        item, matches, body = analyze(ctx, source, item)
        alerts = alerts_for(ctx, source, item, matches, body)
    if not matches:
        print(f"no topic matches: {article.title}\n(the daemon would not alert on this article)")
        return 0
    for alert in alerts:
        if args.json:
            payload = {"channel": alert.channel, "text": fallback_text(alert), "blocks": render(alert)}
            print(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            print(console_text(alert))
    return 0


def cmd_topics(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.topics_command == "train":
        return cmd_train(args, settings)
    return cmd_topics_test(args, settings)


def _json_lines(path: Path) -> list[tuple[str, Any]]:
    """(place, object) per non-blank line of a JSON-lines file."""
    out = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    out.append((f"{path.name}:{number}", json.loads(line)))
                except (json.JSONDecodeError, RecursionError) as e:
                    raise NewsalertError(f"{path}:{number}: not JSON ({e})") from e
    return out


def cmd_train(args: argparse.Namespace, settings: config.Settings) -> int:
    """`topics train LABELS...`: fit the learned layer and write the model file."""
    from service.detect import train

    corpus = {str(row.get("id")): row for path in args.corpus for _, row in _json_lines(path) if isinstance(row, dict)}
    lines = [pair for path in args.labels for pair in _json_lines(path)]
    data = train.examples(lines, corpus, settings.topics, settings.entities, held_out=args.held_out)
    model, report = train.train(data, [t.id for t in settings.topics])
    out = args.out or settings.model_path
    if out is None:
        raise ConfigError("settings.yaml: topic_model is off; give --out FILE")
    out.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    for topic, line in report.items():
        print(f"  {topic:<16} {line}")
    size = out.stat().st_size
    print(
        f"wrote {out}: model {model['id']}, {len(model['features'])} features, {size / 1024:.0f} KiB, {len(data)} examples"
    )
    return 0


def cmd_topics_test(args: argparse.Namespace, settings: config.Settings) -> int:
    """`topics test TOPIC`: the stored items of the window, matched against the current rules."""
    topic = next((t for t in settings.topics if t.id == args.topic), None)
    if topic is None:
        raise ConfigError(f"unknown topic {args.topic!r} (known: {', '.join(t.id for t in settings.topics)})")
    try:
        since = app.utc_now() - timedelta(seconds=parse_duration(args.since))
    except ValueError as e:
        raise NewsalertError(f"--since: {e}") from e
    with app.context(settings) as ctx:
        items = ctx.store.items_since(since)
    hits = 0
    for item in items:
        doc = Document(item.title, item.summary, item.content)
        match = next(
            (m for m in detect(settings.topics, doc, settings.entities, settings.model) if m.topic == topic.id), None
        )
        if match is None:
            continue
        hits += 1
        when = item.published.strftime("%Y-%m-%d %H:%M") if item.published else "undated"
        print(f"{when}  {match.score:>4g}  {item.source[:24]:<24}  {item.title[:90]}")
        print(f"{'':>24}{explain(match)}  {item.url}")
    print(f"\n{args.topic}: {hits} of {len(items)} items stored since {since:%Y-%m-%d %H:%M} UTC would have alerted")
    return 0


def cmd_replay(args: argparse.Namespace, settings: config.Settings) -> int:
    with args.file.open(encoding="utf-8") as f:
        items = [i for i in replay.read_items(f, str(args.file)) if not args.day or _day(i) == args.day]
    target = app.make_deliverer(settings) if args.slack else ConsoleDeliverer()
    with tempfile.TemporaryDirectory(prefix="newsalert-replay-") as tmp:
        report = replay.run(settings, items, target, args.store or Path(tmp) / "replay.db")
    print("\n".join(report.lines()))
    return 0


def _day(item: Item) -> str:
    return item.published.strftime("%Y-%m-%d") if item.published else ""


def cmd_status(_: argparse.Namespace, settings: config.Settings) -> int:
    now = app.utc_now()
    with app.context(settings) as ctx:
        counts = ctx.store.outbox_counts()
        items = ctx.store.item_count()
        oldest = ctx.store.outbox_oldest_pending()
        tokens = LLMCache(ctx.store).tokens_today(now.date())
        stories, held = StoryStore(ctx.store).story_count(), len(StoryStore(ctx.store).held())
    print(f"items stored: {items}; stories: {stories}; alerts held for digests: {held}")
    print("outbox: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("pending", "sent", "failed")))
    if oldest is not None:
        age = _span((now - oldest).total_seconds())
        print(
            f"oldest pending: queued {age} ago, {oldest:%Y-%m-%d %H:%M} UTC (holds at most {settings.outbox_max_pending})"
        )
    if settings.llm is not None:
        budget = settings.llm.daily_token_budget
        print(f"LLM tokens today (UTC): {tokens}" + (f" of a {budget} budget" if budget else " (no budget set)"))
    return 0


def cmd_retry(_: argparse.Namespace, settings: config.Settings) -> int:
    with app.context(settings) as ctx:
        n = ctx.store.retry_now(app.utc_now())
    print(f"{n} waiting alert{'s' if n != 1 else ''} due now: the running daemon's next delivery run posts them")
    return 0


def cmd_health(_: argparse.Namespace, settings: config.Settings) -> int:
    ok = app.healthy(settings)
    print(
        "healthy"
        if ok
        else "unhealthy: no delivery run succeeded recently (the daemon is down or delivery fails: see its log)"
    )
    return 0 if ok else 1


COMMANDS = {
    "run": cmd_run,
    "check": cmd_check,
    "sources": cmd_sources,
    "detect": cmd_detect,
    "stories": cmd_stories,
    "preview": cmd_preview,
    "topics": cmd_topics,
    "replay": cmd_replay,
    "status": cmd_status,
    "health": cmd_health,
    "retry": cmd_retry,
}

if __name__ == "__main__":
    sys.exit(main())
