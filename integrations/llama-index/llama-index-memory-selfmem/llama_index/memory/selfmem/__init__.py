from llama_index.memory.selfmem.base import SelfMemMemoryBlock
from llama_index.memory.selfmem.recorder import SelfMemRecorder
from llama_index.memory.selfmem.runs import OutcomeJudge, RunRecord, default_judge

__all__ = ["OutcomeJudge", "RunRecord", "SelfMemMemoryBlock", "SelfMemRecorder", "default_judge"]
