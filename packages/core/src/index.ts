// @dalm/core public API
