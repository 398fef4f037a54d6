"""Text shared by indexing and ranking: tokenising, stopwords, light stemming.

Pure functions with no selfmem imports, so what is stored for an episode (its index row's
terms) and the ranking code (BM25 terms) agree on what a term is.
"""
