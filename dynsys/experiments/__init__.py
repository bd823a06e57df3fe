"""Experiments from configuration files: systems, runs and sweeps defined in YAML."""

from .config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    config_hash,
    config_schema,
    load_config,
    parse_config,
    resolved_yaml,
)

__all__ = [
    "ConfigError",
    "ExperimentConfig",
    "apply_overrides",
    "config_hash",
    "config_schema",
    "load_config",
    "parse_config",
    "resolved_yaml",
]
