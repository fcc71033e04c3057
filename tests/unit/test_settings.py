from collections.abc import Callable
from pathlib import Path

import pytest

from service import settings as config
from service.errors import ConfigError
from service.schema import parse_duration
from service.settings import _secret


def test_shipped_config_is_valid() -> None:
    s = config.load(Path(__file__).resolve().parents[2] / "config", env={})
    assert len(s.sources) >= 25
    assert {"feed", "html", "json"} <= {x.kind for x in s.sources}
    assert sum(1 for x in s.sources if x.language == "ko") >= 2
    assert [t.id for t in s.topics][:6] == [
        "agi",
        "partnership",
        "funding",
        "acquisition",
        "model-release",
        "regulation",
    ]
    assert s.slack.bot_token is None and s.slack.webhook_url is None


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ("sources:\n  - {name: a, url: 'ftp://x'}\n", "sources.yaml: sources[0].url: not an http(s) URL"),
        (
            "sources:\n  - {name: a, url: 'http://a'}\n  - {name: b, url: 'http://b'}\n"
            "  - {name: c, url: 'http://c'}\n  - {name: d, url: 'file:///etc/passwd'}\n",
            "sources[3].url: not an http(s) URL",
        ),
        (
            "sources:\n  - {name: a, url: 'http://x', kind: rss}\n",
            "sources[0].kind: Input should be 'feed', 'html' or 'json'",
        ),
        ("sources:\n  - {name: a, url: 'http://x', interval: soon}\n", "sources[0].interval: not a duration"),
        ("sources:\n  - {name: a, url: 'http://x', kind: html}\n", "an html source needs `selectors`"),
        (
            "sources:\n  - {name: a, url: 'http://x', colour: red}\n",
            "sources[0].colour: Extra inputs are not permitted",
        ),
        (
            "sources:\n  - {name: a, url: 'http://x'}\n  - {name: a, url: 'http://y'}\n",
            "sources[1].name: 'a' is also in",
        ),
        ("sources: [\n", "sources.yaml: line"),
    ],
)
def test_errors_name_the_place(make_config: Callable[..., Path], sources: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(make_config(sources), env={})
    assert message in str(e.value)


def test_routes_must_name_known_topics(make_config: Callable[..., Path]) -> None:
    cfg = make_config("sources: []\n", "slack:\n  routes: {agii: '#x'}\n")
    with pytest.raises(ConfigError, match=r"slack\.routes: unknown topic"):
        config.load(cfg, env={})


@pytest.mark.parametrize("band", ["[0.55, 0.3]", "[-0.1, 0.5]", "[0.3]"])
def test_the_close_call_band_must_be_low_then_high(make_config: Callable[..., Path], band: str) -> None:
    cfg = make_config("sources: []\n", f"llm: {{provider: openai, same_story: true, same_story_band: {band}}}\n")
    with pytest.raises(ConfigError, match=r"llm\.same_story_band"):
        config.load(cfg, env={})


def test_secrets_from_environment_and_files(make_config: Callable[..., Path], tmp_path: Path) -> None:
    cfg = make_config("sources: []\n")
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-file\n")
    s = config.load(cfg, env={"SLACK_BOT_TOKEN_FILE": str(secret), "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"})
    assert s.slack.bot_token == "xoxb-from-file"
    assert s.slack.webhook_url == "https://hooks.slack.com/x"
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN_FILE: cannot read"):
        config.load(cfg, env={"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})


def test_durations() -> None:
    assert [parse_duration(v) for v in (90, "90s", "10m", "24h", "7d", "1.5h")] == [
        90,
        90,
        600,
        86400,
        604800,
        5400,
    ]
    with pytest.raises(ValueError):
        parse_duration("ten minutes")


@pytest.mark.parametrize("value", [".inf", ".nan", "-30", "0.5", "3000000d"])
def test_a_source_interval_must_be_usable(make_config: Callable[..., Path], value: str) -> None:
    cfg = make_config(f"sources:\n  - {{name: A, url: 'https://a.example/f.xml', interval: {value}}}\n", "")
    with pytest.raises(ConfigError, match="interval"):
        config.load(cfg, env={})


def test_a_config_file_not_in_utf8_is_a_config_error(make_config: Callable[..., Path]) -> None:
    cfg = make_config("sources: []\n", "")
    (cfg / "sources.yaml").write_bytes("sources:\n  - {name: 뉴스, url: 'https://a.example/f'}\n".encode("cp949"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load(cfg, env={})


@pytest.mark.parametrize(("key", "message"), [("\ufeffsk-abc123", None), ("sk-abc\u00e9123", "not shown")])
def test_an_llm_key_file_loses_its_bom_and_must_be_ascii(tmp_path: Path, key: str, message: str | None) -> None:
    path = tmp_path / "key"
    path.write_text(key + "\n", encoding="utf-8")
    env = {"NEWSALERT_LLM_API_KEY_FILE": str(path)}
    if message is None:
        assert _secret(env, "NEWSALERT_LLM_API_KEY") == "sk-abc123"
    else:
        with pytest.raises(ConfigError, match=message) as caught:
            _secret(env, "NEWSALERT_LLM_API_KEY")
        assert "abc" not in str(caught.value)


def test_a_channel_policy_nobody_routes_to_is_a_config_error(make_config: Callable[..., Path]) -> None:
    policy = "slack:\n  routes: {agi: '#ai-agi'}\n  channels:\n    'ai-agi': {quiet_hours: '22:00-08:00'}\n"
    with pytest.raises(ConfigError, match=r"slack\.channels: no route or default channel sends alerts to ai-agi"):
        config.load(make_config("sources: []\n", policy), env={})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("max_interval: 0\n", "settings.yaml: max_interval: at least 1 second, got 0"),
        ("min_interval: 2h\nmax_interval: 1h\n", "min_interval (7200s) is above max_interval (3600s)"),
        ("fetch: {max_bytes: 0}\n", "settings.yaml: fetch.max_bytes: Input should be greater than or equal to 1024"),
        ("fetch: {max_bytes: -5}\n", "fetch.max_bytes"),
        ("fetch: {max_redirects: -1}\n", "settings.yaml: fetch.max_redirects: Input should be greater than or equal"),
        ("language: en\nlanguage: ko\n", "settings.yaml: line 2 column 1 key 'language' appears twice"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "settings.yaml: nested too deeply"),
    ],
)
def test_harmful_settings_are_refused_with_their_place(
    make_config: Callable[..., Path], settings: str, message: str
) -> None:
    cfg = make_config("sources: []\n", "")
    (cfg / "settings.yaml").write_text(settings, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        config.load(cfg, env={})
    assert message in str(e.value)


def test_a_source_min_interval_above_its_max_is_refused(make_config: Callable[..., Path]) -> None:
    cfg = make_config("sources:\n  - {name: A, url: 'https://a.example/f', min_interval: 2h, max_interval: 1h}\n", "")
    with pytest.raises(ConfigError, match=r"sources\[0\].*min_interval is above max_interval"):
        config.load(cfg, env={})


def test_an_oversized_config_file_is_refused_before_it_is_parsed(make_config: Callable[..., Path]) -> None:
    cfg = make_config("sources: []\n", "")
    (cfg / "topics.yaml").write_text("# padding\n" * (config.MAX_CONFIG_BYTES // 10 + 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topics.yaml: .* bytes, over the"):
        config.load(cfg, env={})


def test_a_store_that_is_a_directory_is_refused_and_a_symlinked_one_resolves(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = make_config("sources: []\n", "")
    with pytest.raises(ConfigError, match=r"store: .* is a directory"):
        config.load(cfg, env={"NEWSALERT_STORE": str(tmp_path)})
    real = tmp_path / "real.db"
    real.touch()
    (tmp_path / "link.db").symlink_to(real)
    assert config.load(cfg, env={"NEWSALERT_STORE": str(tmp_path / "link.db")}).store_path == real


def test_yaml_merge_keys_still_work_with_repeated_keys_refused(make_config: Callable[..., Path]) -> None:
    cfg = make_config(
        "sources:\n  - &lab {name: A, url: 'https://a.example/f', interval: 10m}\n"
        "  - {<<: *lab, name: B, url: 'https://b.example/f'}\n",
        "",
    )
    b = config.load(cfg, env={}).sources[1]
    assert (b.name, b.url, b.interval_seconds) == ("B", "https://b.example/f", 600)
