"""Experience retrieval: lexical and context signals fused into a ranked, renderable result."""
