use super::*;

fn today() -> BeijingDay {
    BeijingDay::from_ymd(2026, 11, 26).unwrap()
}

fn company() -> QualificationInput {
    QualificationInput {
        entity_type: "company".into(),
        business_name: Some("福州示例科技有限公司".into()),
        licence_number: Some("91350100M000100Y43".into()),
        legal_person_name: "张三".into(),
        legal_person_id_no: "11010519491231002X".into(),
        contact_name: "李四".into(),
        contact_phone: "13800000000".into(),
        categories: vec!["food".into(), "apparel".into()],
        permits: vec![PermitInput { kind: "food_operation".into(), number: "JY14403050012345".into() }],
    }
}

fn codes(input: &QualificationInput) -> Vec<(String, String)> {
    match check(input, &QualificationRules::default(), today()) {
        Ok(_) => vec![],
        Err(reasons) => reasons.into_iter().map(|r| (r.field, r.code)).collect(),
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect()
}

#[test]
fn a_complete_company_passes_and_comes_out_typed() {
    let qualification = check(&company(), &QualificationRules::default(), today()).unwrap();
    assert_eq!(qualification.entity_type, EntityType::Company);
    assert_eq!(qualification.business_name.as_deref(), Some("福州示例科技有限公司"));
    assert_eq!(qualification.licence_number.unwrap().as_str(), "91350100M000100Y43");
    assert_eq!(qualification.legal_person_id.as_str(), "11010519491231002X");
    assert_eq!(qualification.categories, ["food", "apparel"]);
    assert_eq!(
        qualification.permits,
        [Permit { kind: "food_operation".into(), number: "JY14403050012345".into() }]
    );
}

#[test]
fn an_individual_needs_no_licence_and_may_not_give_one() {
    let mut individual = company();
    individual.entity_type = "individual".into();
    individual.licence_number = None;
    individual.business_name = None;
    individual.categories = vec!["apparel".into()];
    individual.permits = vec![];
    assert_eq!(codes(&individual), pairs(&[]));
    individual.licence_number = Some("92350203MA2Y1AB2K7".into());
    assert_eq!(codes(&individual), pairs(&[("licence_number", "licence_for_individual")]));
}

/// One change to a complete form.
type Change = fn(&mut QualificationInput);

#[test]
fn every_field_gets_its_own_reason() {
    let table: Vec<(Change, Vec<(&str, &str)>)> = vec![
        (|i| i.entity_type = "llc".into(), vec![("entity_type", "unknown_entity_type")]),
        (|i| i.licence_number = None, vec![("licence_number", "required")]),
        (|i| i.business_name = Some(" ".into()), vec![("business_name", "required")]),
        (|i| i.business_name = Some("名".repeat(101)), vec![("business_name", "too_long")]),
        (|i| i.licence_number = Some("91350100m000100Y43".into()), vec![("licence_number", "lowercase")]),
        (|i| i.licence_number = Some("91350100M000100Y4".into()), vec![("licence_number", "wrong_length")]),
        (
            |i| i.licence_number = Some("91350100M000100Y44".into()),
            vec![("licence_number", "bad_check_character")],
        ),
        (
            |i| i.licence_number = Some("91350100S000100Y43".into()),
            vec![("licence_number", "forbidden_character")],
        ),
        (
            |i| i.licence_number = Some("92350203MA2Y1AB2K7".into()),
            vec![("licence_number", "entity_type_mismatch")],
        ),
        (|i| i.legal_person_name = "张".into(), vec![("legal_person_name", "bad_name")]),
        (|i| i.legal_person_name = "张三3".into(), vec![("legal_person_name", "bad_name")]),
        (|i| i.legal_person_id_no = "11010519491231002x".into(), vec![("legal_person_id_no", "lowercase")]),
        (
            |i| i.legal_person_id_no = "110105194912310021".into(),
            vec![("legal_person_id_no", "bad_check_character")],
        ),
        (
            |i| i.legal_person_id_no = "110105202302290014".into(),
            vec![("legal_person_id_no", "impossible_birth_date")],
        ),
        (
            |i| i.legal_person_id_no = "11010520300101001X".into(),
            vec![("legal_person_id_no", "birth_date_in_future")],
        ),
        // born 2010-01-01, 16 on the day of the check (check character from Python)
        (|i| i.legal_person_id_no = "110105201001010010".into(), vec![("legal_person_id_no", "under_age")]),
        (|i| i.contact_name = " ".into(), vec![("contact_name", "bad_name")]),
        (|i| i.contact_phone = "12345".into(), vec![("contact_phone", "bad_phone")]),
        (|i| i.categories = vec![], vec![("categories", "bad_count")]),
        (|i| i.categories.push("guns".into()), vec![("categories[2]", "unknown_category")]),
        (|i| i.categories.push("food".into()), vec![("categories[2]", "duplicate")]),
        (|i| i.permits = vec![], vec![("permits", "permit_required")]),
        (
            |i| i.permits[0].number = "JY1440305001234".into(),
            vec![("permits[0].number", "bad_permit_number")],
        ),
        (
            |i| i.permits[0].kind = "liquor".into(),
            vec![("permits[0].kind", "unknown_permit"), ("permits", "permit_required")],
        ),
        (
            |i| {
                i.permits
                    .push(PermitInput { kind: "food_operation".into(), number: "JY14403050012345".into() })
            },
            vec![("permits[1].kind", "duplicate")],
        ),
        (|i| i.categories = vec!["cosmetics".into()], vec![("permits", "permit_required")]),
    ];
    for (change, expected) in table {
        let mut input = company();
        change(&mut input);
        assert_eq!(codes(&input), pairs(&expected), "{input:?}");
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let mut input = company();
    input.licence_number = Some("91350100M000100Y44".into());
    input.legal_person_id_no = "11010519491231002x".into();
    input.permits = vec![];
    assert_eq!(
        codes(&input),
        pairs(&[
            ("licence_number", "bad_check_character"),
            ("legal_person_id_no", "lowercase"),
            ("permits", "permit_required"),
        ])
    );
}

#[test]
fn the_input_reads_from_the_documented_json() {
    let input: QualificationInput = serde_json::from_str(
        r#"{"entity_type":"company","business_name":"福州示例科技有限公司","licence_number":"91350100M000100Y43","legal_person_name":"张三",
            "legal_person_id_no":"11010519491231002X","contact_name":"李四","contact_phone":"13800000000",
            "categories":["food"],"permits":[{"kind":"food_production","number":"SC10644011500123"}]}"#,
    )
    .unwrap();
    assert!(check(&input, &QualificationRules::default(), today()).is_ok());
}

#[test]
fn review_states_read_back_from_their_names() {
    for state in [
        ReviewState::None,
        ReviewState::Pending,
        ReviewState::Manual,
        ReviewState::Approved,
        ReviewState::Rejected,
    ] {
        assert_eq!(ReviewState::parse(state.as_str()), Some(state));
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
    }
    assert_eq!(ReviewState::parse("accepted"), None);
}
