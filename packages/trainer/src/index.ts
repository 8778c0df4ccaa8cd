// @dalm/trainer public API
