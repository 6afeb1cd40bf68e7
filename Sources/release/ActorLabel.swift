/// How a recorded actor reads in tables: "ci for alice" when a CI login acted for someone, and
/// "alice (claimed)" for what was recorded before identity was enforced, once it is, since that
/// name was never checked.
enum ActorLabel {
    static func text(_ actor: String, login: String?, onBehalfOf: String?, enforced: Bool) -> String {
        guard login != nil else { return enforced ? "\(actor) (claimed)" : actor }
        return onBehalfOf.map { "\(actor) for \($0)" } ?? actor
    }
}
