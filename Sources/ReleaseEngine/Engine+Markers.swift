import Foundation
import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// How many times a marker is tried before the engine gives up on it.
    static let markerTries = 3

    /// Writes a deploy marker into every service `markers:` names that marks `kind`. A marker never
    /// fails an operation: each is tried three times, then a warning is shown and `marker.failed`
    /// audited.
    func mark(
        _ kind: DeployMark.Kind, release: ReleaseRecord, in environment: EnvironmentConfiguration?, appID: Int64, message: String
    ) async {
        guard !configuration.markers.isEmpty else { return }
        let markers: [any DeployMarker]
        do {
            markers = try monitoring.markers(configuration.markers, monitors: configuration.monitors, environment: providerContext.environment)
        } catch {
            await markerFailed(kind, service: "markers", release: release, environment: environment, appID: appID, error: error)
            return
        }
        let values = templateValues(release, in: environment)
        let mark = DeployMark(
            kind: kind, app: app, version: release.version, releaseName: values.releaseName, commit: release.commit,
            environment: environment?.envLabel, service: values.service, at: .now, message: message)
        for marker in markers where marker.marks(kind) {
            var lastError: (any Error)?
            for attempt in 1...Self.markerTries {
                do {
                    try await marker.mark(mark)
                    lastError = nil
                    break
                } catch {
                    lastError = error
                    if attempt < Self.markerTries { try? await Task.sleep(for: .milliseconds(300 * attempt)) }
                }
            }
            if let lastError {
                await markerFailed(kind, service: marker.service, release: release, environment: environment, appID: appID, error: lastError)
            }
        }
    }

    private func markerFailed(
        _ kind: DeployMark.Kind, service: String, release: ReleaseRecord, environment: EnvironmentConfiguration?, appID: Int64,
        error: any Error
    ) async {
        let reason = Secrets.redact("\(error)")
        progress(
            "Warning: the \(service) marker for \(release.version) (\(kind.rawValue)) was not written after \(Self.markerTries) tries: \(reason)")
        let engine = self
        do {
            try await database { db in
                try db.appendAudit(
                    app: appID, actor: engine.claimedActor, action: "marker.failed", environment: environment?.name,
                    version: release.version,
                    details: .object([("service", .string(service)), ("mark", .string(kind.rawValue)), ("error", .string(reason))]))
            }
        } catch {
            logger.warning("Could not audit the failed marker: \(error)")
        }
    }
}
