"""Text shared by storage and ranking: tokenising, stopwords, light stemming, FTS queries.

Pure functions with no selfmem imports, so the storage backends (full-text queries) and the
ranking code (BM25 terms) agree on what a term is.
"""
