"""The operation specs as data: the Operation model, the registry loading operations/, load-time
checks, the generated input models and the catalog descriptions."""
