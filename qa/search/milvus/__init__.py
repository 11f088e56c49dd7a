"""Milvus as a search engine (``pip install 'hoidap[scale]'``); see :mod:`.engine`."""
