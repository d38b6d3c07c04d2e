"""gunicorn settings for the lab's NetBox: steadier response times on a small machine.

NetBox's workers allocate heavily per request; CPython's default generation-0 threshold (700)
then runs collections that walk the whole loaded Django app, which showed up as 0.7-0.9 s
spikes on small requests. Freezing the import-time heap and collecting less often removes them,
for every client alike (mspctl and the baselines it is benchmarked against).
"""

import gc


def post_worker_init(worker):
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
