"""The settings object: defaults, sources, and the documentation meta-test."""

from __future__ import annotations

from pathlib import Path

import pytest

from levante.errors import ConfigurationError
from levante.settings import (
    BillingSettings,
    LicensingSettings,
    ModelSettings,
    Settings,
    embedded_model_path,
    load_settings,
)

DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in text, f"setting '{name}' is missing from docs/configuration.md"
        assert f"`LEVANTE_{name.upper()}`" in text, f"LEVANTE_{name.upper()} is undocumented"
    for name in ModelSettings.model_fields:
        assert f"`{name}`" in text, f"model setting '{name}' is missing from docs/configuration.md"
    for name in BillingSettings.model_fields:
        assert f"`LEVANTE_BILLING__{name.upper()}`" in text, f"billing.{name} is undocumented"
    for name in LicensingSettings.model_fields:
        assert f"`LEVANTE_LICENSING__{name.upper()}`" in text, f"licensing.{name} is undocumented"


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.resolved_database_url == "sqlite:///var/levante.db"
    [model] = settings.models
    assert model.gguf_path() == embedded_model_path()
    assert embedded_model_path().is_file()
    assert embedded_model_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_environment_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "levante.toml"
    config.write_text(
        'port = 9001\nlog_level = "debug"\n\n[[models]]\nid = "m"\npath = "/srv/m.gguf"\n'
    )
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", str(config))
    monkeypatch.setenv("LEVANTE_PORT", "9002")
    monkeypatch.setenv("LEVANTE_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings()
    assert settings.port == 9002  # the environment wins over the file
    assert settings.log_level == "debug"
    assert settings.models[0].path == Path("/srv/m.gguf")
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    "overrides",
    [
        {"port": 70000},
        {"log_level": "loud"},
        {"unknown": 1},
        {"models": [{"id": "a"}, {"id": "b", "aliases": ["a"]}]},
    ],
)
def test_bad_settings_are_a_configuration_error(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(**overrides)


def test_a_model_without_a_path_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="no 'path'"):
        ModelSettings(id="custom").gguf_path()


def test_every_upstream_setting_is_documented() -> None:
    from levante.settings import UpstreamSettings

    text = DOCS.read_text()
    for name in UpstreamSettings.model_fields:
        assert f"`{name}`" in text, f"upstream setting '{name}' is missing"


def test_a_currency_levante_cannot_bill_in_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: GBP passed the settings, and then every new organisation got a 400."""
    monkeypatch.setenv("LEVANTE_CURRENCY", "GBP")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.message == (
        "invalid settings: currency: Input should be 'EUR' or 'USD' (got 'GBP')"
    )
    monkeypatch.setenv("LEVANTE_CURRENCY", "EUR")
    assert load_settings().currency == "EUR"


def test_the_public_url_follows_the_listening_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 29: with LEVANTE_PORT=8101 every link said http://127.0.0.1:8080."""
    from levante.settings import BillingSettings, public_url_mismatch

    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")
    monkeypatch.setenv("LEVANTE_PORT", "8101")
    assert Settings().billing.public_url == "http://127.0.0.1:8101"
    assert Settings(host="0.0.0.0", port=9000).billing.public_url == "http://127.0.0.1:9000"
    assert Settings(host="::1", port=9000).billing.public_url == "http://[::1]:9000"
    stale = Settings(billing=BillingSettings(public_url="http://localhost:8080"), port=8101)
    warning = public_url_mismatch(stale, "127.0.0.1", 8101)
    assert warning is not None
    assert "http://127.0.0.1:8101" in warning
    proxied = Settings(billing=BillingSettings(public_url="https://ai.example.com"), port=8101)
    assert public_url_mismatch(proxied, "0.0.0.0", 8101) is None
