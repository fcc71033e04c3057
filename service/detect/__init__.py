"""Topic detection: compile readable rules from the config, then match items against them (pure)."""

from service.detect.rules import CompiledTopic, Document, compile_topics, detect, may_match

__all__ = ["CompiledTopic", "Document", "compile_topics", "detect", "may_match"]
