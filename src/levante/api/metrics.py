"""Prometheus metrics: HTTP requests, tokens, time to first token, queue depth."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from levante.engine import ModelRegistry

# The *_created series double the output and say nothing a scraper needs.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _EngineCollector(Collector):
    """Reads queue depth and readiness from the engines at scrape time."""

    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        depth = GaugeMetricFamily(
            "levante_queue_depth", "Requests waiting for a model", labels=["model"]
        )
        active = GaugeMetricFamily(
            "levante_active_sequences", "Requests a model is generating for", labels=["model"]
        )
        steps = CounterMetricFamily(
            "levante_decode_steps", "Decode steps (one batch each)", labels=["model"]
        )
        decoded = CounterMetricFamily(
            "levante_decode_tokens", "Tokens decoded, prompt and generated", labels=["model"]
        )
        sampled = CounterMetricFamily(
            "levante_decode_sampled_tokens", "Tokens sampled from decode steps", labels=["model"]
        )
        seconds = CounterMetricFamily(
            "levante_decode_seconds", "Time inside the model's decode call", labels=["model"]
        )
        loaded = GaugeMetricFamily(
            "levante_model_loaded", "1 when the model is loaded", labels=["model"]
        )
        served = {m.id: m for m in self._models.loaded()}
        for model in self._models.configured():
            engine = served.get(model.id)
            depth.add_metric([model.id], engine.engine.queue_depth if engine else 0)
            loaded.add_metric([model.id], 1 if engine else 0)
            if engine is not None:
                stats = engine.engine.stats
                active.add_metric([model.id], stats.active)
                steps.add_metric([model.id], stats.steps)
                decoded.add_metric([model.id], stats.tokens)
                sampled.add_metric([model.id], stats.sampled)
                seconds.add_metric([model.id], stats.seconds)
        yield from (depth, loaded, active, steps, decoded, sampled, seconds)


class Metrics:
    """The metrics of one app, in a registry of their own (so several apps can coexist)."""

    def __init__(self, models: ModelRegistry) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "levante_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "levante_http_request_duration_seconds",
            "Time to complete an HTTP request (to the last byte of a stream)",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.generations = Counter(
            "levante_generations",
            "Metered model requests by status",
            ["model", "endpoint", "status"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "levante_tokens",
            "Tokens processed, by kind (prompt, cached, completion)",
            ["model", "kind"],
            registry=self.registry,
        )
        self.ttft = Histogram(
            "levante_time_to_first_token_seconds",
            "Time from request to first generated token",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.generation_seconds = Histogram(
            "levante_generation_duration_seconds",
            "Time spent on a metered model request",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.moderation_flags = Counter(
            "levante_moderation_flags",
            "Texts a moderation found in a category, by category and endpoint",
            ["category", "endpoint"],
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(models))

    def flagged(self, category: str, endpoint: str) -> None:
        self.moderation_flags.labels(category, endpoint).inc()

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_seconds.labels(route).observe(seconds)

    # The serving layer's Observer protocol.
    def first_token(self, model: str, seconds: float) -> None:
        self.ttft.labels(model).observe(seconds)

    def finished(
        self,
        *,
        model: str,
        endpoint: str,
        status: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int,
        seconds: float,
    ) -> None:
        self.generations.labels(model, endpoint, status).inc()
        self.tokens.labels(model, "prompt").inc(prompt_tokens)
        self.tokens.labels(model, "cached").inc(cached_tokens)
        self.tokens.labels(model, "completion").inc(completion_tokens)
        self.generation_seconds.labels(model).observe(seconds)

    def render(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
