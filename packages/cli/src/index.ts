// @dalm/cli public API
