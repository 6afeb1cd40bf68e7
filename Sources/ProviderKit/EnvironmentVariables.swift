extension Dictionary where Key == String, Value == String {
    /// The variable's value, or `nil` when it is unset or empty (an empty token is no token).
    public func nonEmpty(_ name: String) -> String? {
        guard let value = self[name], !value.isEmpty else { return nil }
        return value
    }
}
