// @dalm/retriever public API
