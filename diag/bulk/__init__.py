"""`maildiag scan`: many targets through the same check and probe core.

Streaming input (targets), one shared cache per run (cache), politeness (limits), JSON
Lines out (output), the run's summary (summary), the asyncio scanner (scanner), and the
Dask driver (cluster, imported only with --dask).
"""
