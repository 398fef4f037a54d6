from llama_index.retrievers.selfmem.base import SelfMemRetriever

__all__ = ["SelfMemRetriever"]
