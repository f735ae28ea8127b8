"""Course surveys students answer: identity (LTI or invitation), submission, pages and rate limits."""
