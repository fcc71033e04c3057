"""Topic detection (pure): readable rules, organizations and deal events, scored and explained."""

from service.detect.entities import Entities, compile_entities
from service.detect.match import detect
from service.detect.model import TopicModel, Verdict, parse_model
from service.detect.near import near_misses
from service.detect.rules import CompiledTopic, Document, Scan, compile_topics, may_match

__all__ = [
    "CompiledTopic",
    "Document",
    "Entities",
    "Scan",
    "TopicModel",
    "Verdict",
    "compile_entities",
    "compile_topics",
    "detect",
    "may_match",
    "near_misses",
    "parse_model",
]
