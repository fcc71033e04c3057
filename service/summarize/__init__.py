"""Summaries behind one interface: the embedded extractive summarizer is the default (no key)."""

from service.summarize.extractive import summarize

__all__ = ["summarize"]
