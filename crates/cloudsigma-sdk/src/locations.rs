//! CloudSigma's locations as shipped data: CLOUDSIGMA.md §1.2, the union of the docs' location
//! table (D:dumps/locations.csv) and the `GET /locations/` example (D:dumps/response_locations).
//! Refresh it at run time with [`crate::Client::locations`]; white-label hosts are not
//! `*.cloudsigma.com`, so a location is reached only through its full host.

/// One location: where its API and its upload service live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownLocation {
    /// CloudSigma's id, upper case (`"ZRH"`).
    pub id: &'static str,
    pub display: &'static str,
    /// ISO 3166 alpha-2.
    pub country_code: &'static str,
    /// Host of the API (`https://{api_host}/api/2.0/`).
    pub api_host: &'static str,
    /// Host of uploads and downloads (`https://{upload_host}/api/2.0/`), when documented.
    pub upload_host: Option<&'static str>,
}

const fn loc(
    id: &'static str,
    display: &'static str,
    country_code: &'static str,
    api_host: &'static str,
    upload_host: Option<&'static str>,
) -> KnownLocation {
    KnownLocation {
        id,
        display,
        country_code,
        api_host,
        upload_host,
    }
}

/// The 18 locations of CLOUDSIGMA.md §1.2. LON is in the docs' table only and has no documented
/// upload host; LLA and MTY are in the `/locations/` example only.
pub static KNOWN_LOCATIONS: &[KnownLocation] = &[
    loc(
        "ZRH",
        "Zurich, Switzerland",
        "CH",
        "zrh.cloudsigma.com",
        Some("direct.zrh.cloudsigma.com"),
    ),
    loc(
        "GVA",
        "Geneva, Switzerland",
        "CH",
        "gva.cloudsigma.com",
        Some("direct.gva.cloudsigma.com"),
    ),
    loc(
        "FRA",
        "Frankfurt, Germany",
        "DE",
        "fra.cloudsigma.com",
        Some("direct.fra.cloudsigma.com"),
    ),
    loc(
        "DUS",
        "Dusseldorf, Germany",
        "DE",
        "dus.cloudsigma.com",
        Some("direct.dus.cloudsigma.com"),
    ),
    loc(
        "LON",
        "London, United Kingdom",
        "GB",
        "lon.cloudsigma.com",
        None,
    ),
    loc(
        "CWL",
        "Cardiff/Newport, United Kingdom",
        "GB",
        "cwl.cloudsigma.com",
        Some("direct.cwl.cloudsigma.com"),
    ),
    loc(
        "DUB",
        "Dublin, Ireland",
        "IE",
        "ec.servecentric.com",
        Some("direct.ec.servecentric.com"),
    ),
    loc(
        "PER",
        "Perth, Australia",
        "AU",
        "per.cloudsigma.com",
        Some("direct.per.cloudsigma.com"),
    ),
    loc(
        "TYO",
        "Tokyo, Japan",
        "JP",
        "tyo.cloudsigma.com",
        Some("direct.tyo.cloudsigma.com"),
    ),
    loc(
        "CRK",
        "Clark, Philippines",
        "PH",
        "crk.cloudsigma.com",
        Some("direct.crk.cloudsigma.com"),
    ),
    loc(
        "MNL",
        "Manila, Philippines",
        "PH",
        "mnl.cloudsigma.com",
        Some("direct.mnl.cloudsigma.com"),
    ),
    loc(
        "MNL2",
        "Manila-2, Philippines",
        "PH",
        "mnl2.cloudsigma.com",
        Some("direct.mnl2.cloudsigma.com"),
    ),
    loc(
        "RUH",
        "Riyadh, Saudi Arabia",
        "SA",
        "ruh.cld.v2.sa",
        Some("direct.ruh.cld.v2.sa"),
    ),
    loc(
        "ADB",
        "Izmir, Turkey",
        "TR",
        "siaflex.cloud",
        Some("direct.siaflex.cloud"),
    ),
    loc(
        "HNL",
        "Honolulu, United States",
        "US",
        "hnl.cloudsigma.com",
        Some("direct.hnl.cloudsigma.com"),
    ),
    loc(
        "WDC",
        "Washington DC, United States",
        "US",
        "wdc.alpha3cloud.com",
        Some("direct.wdc.alpha3cloud.com"),
    ),
    loc(
        "LLA",
        "Boden, Sweden",
        "SE",
        "cloud.hydro66.com",
        Some("direct.cloud.hydro66.com"),
    ),
    loc(
        "MTY",
        "Monterrey, Mexico",
        "MX",
        "mty.stratospherecloud.com",
        Some("direct.mty.stratospherecloud.com"),
    ),
];

/// The known location with this id, compared case-insensitively (`"zrh"` finds ZRH).
pub fn known_location(id: &str) -> Option<&'static KnownLocation> {
    let id = id.trim();
    KNOWN_LOCATIONS
        .iter()
        .find(|l| l.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_unique_upper_case_ids() {
        assert_eq!(KNOWN_LOCATIONS.len(), 18);
        let ids: std::collections::HashSet<_> = KNOWN_LOCATIONS.iter().map(|l| l.id).collect();
        assert_eq!(ids.len(), 18);
        assert!(KNOWN_LOCATIONS
            .iter()
            .all(|l| l.id == l.id.to_ascii_uppercase()));
    }

    #[test]
    fn lookup_ignores_case_and_knows_white_labels() {
        assert_eq!(known_location("ruh").unwrap().api_host, "ruh.cld.v2.sa");
        assert_eq!(known_location("Mnl2").unwrap().id, "MNL2");
        assert_eq!(known_location("LON").unwrap().upload_host, None);
        assert!(
            known_location("SJC").is_none(),
            "removed from the docs in 2025"
        );
    }
}
