import AWSProvider
import CommandProvider
import DigitalOceanProvider
import HerokuProvider
import ProviderKit
import RailwayProvider

extension ProviderRegistry {
    /// The providers built into `release`, in the order messages list them: the one list of
    /// providers. release.yml's parser takes the provider names it accepts from it.
    public static let builtIn = ProviderRegistry([
        CommandProvider.self, HerokuProvider.self, RailwayProvider.self, DigitalOceanProvider.self, ECSProvider.self,
        LambdaProvider.self,
    ])
}
