"""The expressivity measure: how complex a trajectory a model can generate on its own (``docs/expressivity.md``)."""
