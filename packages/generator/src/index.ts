// @dalm/generator public API
