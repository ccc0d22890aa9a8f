"""The machinery that serves a shared server: one job system for heavy work (:mod:`core.jobs.work`: threads for
computations, child processes for trainings; shared by askers, a few at a time, stopped when nobody waits),
trainings and the model store (:mod:`core.jobs.models`), the training child (:mod:`core.jobs.training_process`,
forked by :mod:`core.jobs.training_forker`) and the weights that ship with the app (:mod:`core.jobs.shipped`).

The math never imports this package: a computation run here is told to stop through :mod:`core.stopping`.
"""
