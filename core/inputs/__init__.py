"""Reading inputs: datasets (the embedded digits, full MNIST, IDX folders), pictures and photos of digits, the
settings that decide a model, and the cache folder they are kept in.

Modules here import neither the math (``core/*.py``) nor the job machinery (``core/jobs``), only the shared
checks and errors (a test checks it).
"""
