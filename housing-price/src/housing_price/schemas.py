"""Request and answer models of the API for one Ames house. Project-owned.

Every feature but living area, year built and neighbourhood is optional (the model imputes
what is missing), and every one is typed: numbers carry their unit
and allowed range, categories their allowed set. A value out of range or an unknown category is
rejected with 422 naming the field: the model was never trained on such a house, so no answer is
better than a silent extrapolation. (The ranges are wide: about 1.5x the largest value seen.)
The predictor is in ``predictor.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE = {
    "Gr_Liv_Area": 1656.0, "Total_Bsmt_SF": 1080.0, "Year_Built": 1960.0, "Year_Remod_Add": 1960.0,
    "Year_Sold": 2010.0, "Full_Bath": 1.0, "Half_Bath": 0.0, "Bedroom_AbvGr": 3.0, "Garage_Cars": 2.0,
    "Lot_Area": 31770.0, "Neighborhood": "North_Ames", "Overall_Cond": "Average", "MS_Zoning": "Residential_Low_Density",
}  # fmt: skip


class Item(BaseModel):
    """One house, with the fields of the Ames data: living area, year built and neighbourhood are required."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    Lot_Frontage: float | None = Field(
        default=None,
        ge=0,
        le=470,
        description="Street frontage connected to the lot, feet (0 to 470); imputed if missing.",
    )
    Lot_Area: float | None = Field(
        default=None, ge=0, le=322870, description="Lot size, square feet (0 to 322870); imputed if missing."
    )
    Year_Built: float = Field(ge=1850, le=2030, description="Original construction year (1850 to 2030); required.")
    Year_Remod_Add: float | None = Field(
        default=None,
        ge=1850,
        le=2030,
        description="Remodel year (construction year if never remodelled) (1850 to 2030); imputed if missing.",
    )
    Mas_Vnr_Area: float | None = Field(
        default=None, ge=0, le=2400, description="Masonry veneer area, square feet (0 to 2400); imputed if missing."
    )
    BsmtFin_SF_1: float | None = Field(
        default=None,
        ge=0,
        le=14,
        description="Basement type-1 finish code (as coded in the source data) (0 to 14); imputed if missing.",
    )
    BsmtFin_SF_2: float | None = Field(
        default=None,
        ge=0,
        le=2290,
        description="Type-2 finished basement area, square feet (0 to 2290); imputed if missing.",
    )
    Bsmt_Unf_SF: float | None = Field(
        default=None,
        ge=0,
        le=3510,
        description="Unfinished basement area, square feet (0 to 3510); imputed if missing.",
    )
    Total_Bsmt_SF: float | None = Field(
        default=None, ge=0, le=9170, description="Total basement area, square feet (0 to 9170); imputed if missing."
    )
    First_Flr_SF: float | None = Field(
        default=None, ge=0, le=7650, description="First-floor area, square feet (0 to 7650); imputed if missing."
    )
    Second_Flr_SF: float | None = Field(
        default=None, ge=0, le=3100, description="Second-floor area, square feet (0 to 3100); imputed if missing."
    )
    Gr_Liv_Area: float = Field(ge=0, le=8470, description="Above-grade living area, square feet (0 to 8470); required.")
    Bsmt_Full_Bath: float | None = Field(
        default=None, ge=0, le=6, description="Basement full bathrooms, count (0 to 6); imputed if missing."
    )
    Bsmt_Half_Bath: float | None = Field(
        default=None, ge=0, le=4, description="Basement half bathrooms, count (0 to 4); imputed if missing."
    )
    Full_Bath: float | None = Field(
        default=None, ge=0, le=8, description="Full bathrooms above grade, count (0 to 8); imputed if missing."
    )
    Half_Bath: float | None = Field(
        default=None, ge=0, le=4, description="Half bathrooms above grade, count (0 to 4); imputed if missing."
    )
    Bedroom_AbvGr: float | None = Field(
        default=None, ge=0, le=16, description="Bedrooms above grade, count (0 to 16); imputed if missing."
    )
    Kitchen_AbvGr: float | None = Field(
        default=None, ge=0, le=6, description="Kitchens above grade, count (0 to 6); imputed if missing."
    )
    TotRms_AbvGrd: float | None = Field(
        default=None,
        ge=0,
        le=30,
        description="Rooms above grade excluding bathrooms, count (0 to 30); imputed if missing.",
    )
    Fireplaces: float | None = Field(
        default=None, ge=0, le=8, description="Fireplaces, count (0 to 8); imputed if missing."
    )
    Garage_Cars: float | None = Field(
        default=None, ge=0, le=10, description="Garage size, cars (0 to 10); imputed if missing."
    )
    Garage_Area: float | None = Field(
        default=None, ge=0, le=2240, description="Garage area, square feet (0 to 2240); imputed if missing."
    )
    Wood_Deck_SF: float | None = Field(
        default=None, ge=0, le=2140, description="Wood deck area, square feet (0 to 2140); imputed if missing."
    )
    Open_Porch_SF: float | None = Field(
        default=None, ge=0, le=1120, description="Open porch area, square feet (0 to 1120); imputed if missing."
    )
    Enclosed_Porch: float | None = Field(
        default=None, ge=0, le=1520, description="Enclosed porch area, square feet (0 to 1520); imputed if missing."
    )
    Three_season_porch: float | None = Field(
        default=None, ge=0, le=770, description="Three-season porch area, square feet (0 to 770); imputed if missing."
    )
    Screen_Porch: float | None = Field(
        default=None, ge=0, le=870, description="Screen porch area, square feet (0 to 870); imputed if missing."
    )
    Pool_Area: float | None = Field(
        default=None, ge=0, le=1200, description="Pool area, square feet (0 to 1200); imputed if missing."
    )
    Misc_Val: float | None = Field(
        default=None,
        ge=0,
        le=25500,
        description="Value of the miscellaneous feature, US dollars (0 to 25500); imputed if missing.",
    )
    Mo_Sold: float | None = Field(
        default=None, ge=1, le=12, description="Month sold (1-12) (1 to 12); imputed if missing."
    )
    Year_Sold: float | None = Field(
        default=None, ge=1850, le=2030, description="Year sold (1850 to 2030); imputed if missing."
    )
    Longitude: float | None = Field(
        default=None,
        ge=-94.2,
        le=-93.0,
        description="Longitude of the property, degrees (-94.2 to -93.0); imputed if missing.",
    )
    Latitude: float | None = Field(
        default=None,
        ge=41.4,
        le=42.6,
        description="Latitude of the property, degrees (41.4 to 42.6); imputed if missing.",
    )
    MS_SubClass: (
        Literal[
            "Duplex_All_Styles_and_Ages",
            "One_Story_1945_and_Older",
            "One_Story_1946_and_Newer_All_Styles",
            "One_Story_PUD_1946_and_Newer",
            "One_Story_with_Finished_Attic_All_Ages",
            "One_and_Half_Story_Finished_All_Ages",
            "One_and_Half_Story_PUD_All_Ages",
            "One_and_Half_Story_Unfinished_All_Ages",
            "PUD_Multilevel_Split_Level_Foyer",
            "Split_Foyer",
            "Split_or_Multilevel",
            "Two_Family_conversion_All_Styles_and_Ages",
            "Two_Story_1945_and_Older",
            "Two_Story_1946_and_Newer",
            "Two_Story_PUD_1946_and_Newer",
            "Two_and_Half_Story_All_Ages",
        ]
        | None
    ) = Field(default=None, description="Dwelling type involved in the sale; imputed if missing.")
    MS_Zoning: (
        Literal[
            "A_agr",
            "C_all",
            "Floating_Village_Residential",
            "I_all",
            "Residential_High_Density",
            "Residential_Low_Density",
            "Residential_Medium_Density",
        ]
        | None
    ) = Field(default=None, description="General zoning classification; imputed if missing.")
    Street: Literal["Grvl", "Pave"] | None = Field(default=None, description="Road access type; imputed if missing.")
    Alley: Literal["Gravel", "No_Alley_Access", "Paved"] | None = Field(
        default=None, description="Alley access type; imputed if missing."
    )
    Lot_Shape: Literal["Irregular", "Moderately_Irregular", "Regular", "Slightly_Irregular"] | None = Field(
        default=None, description="General shape of the lot; imputed if missing."
    )
    Land_Contour: Literal["Bnk", "HLS", "Low", "Lvl"] | None = Field(
        default=None, description="Flatness of the lot; imputed if missing."
    )
    Utilities: Literal["AllPub", "NoSeWa", "NoSewr"] | None = Field(
        default=None, description="Utilities available; imputed if missing."
    )
    Lot_Config: Literal["Corner", "CulDSac", "FR2", "FR3", "Inside"] | None = Field(
        default=None, description="Lot configuration; imputed if missing."
    )
    Land_Slope: Literal["Gtl", "Mod", "Sev"] | None = Field(
        default=None, description="Slope of the lot; imputed if missing."
    )
    Neighborhood: Literal[
        "Bloomington_Heights",
        "Blueste",
        "Briardale",
        "Brookside",
        "Clear_Creek",
        "College_Creek",
        "Crawford",
        "Edwards",
        "Gilbert",
        "Green_Hills",
        "Greens",
        "Iowa_DOT_and_Rail_Road",
        "Landmark",
        "Meadow_Village",
        "Mitchell",
        "North_Ames",
        "Northpark_Villa",
        "Northridge",
        "Northridge_Heights",
        "Northwest_Ames",
        "Old_Town",
        "Sawyer",
        "Sawyer_West",
        "Somerset",
        "South_and_West_of_Iowa_State_University",
        "Stone_Brook",
        "Timberland",
        "Veenker",
    ] = Field(description="Neighborhood within Ames city limits; required.")
    Condition_1: Literal["Artery", "Feedr", "Norm", "PosA", "PosN", "RRAe", "RRAn", "RRNe", "RRNn"] | None = Field(
        default=None, description="Proximity to main road or railroad; imputed if missing."
    )
    Condition_2: Literal["Artery", "Feedr", "Norm", "PosA", "PosN", "RRAe", "RRAn", "RRNn"] | None = Field(
        default=None, description="Proximity to a second road or railroad; imputed if missing."
    )
    Bldg_Type: Literal["Duplex", "OneFam", "Twnhs", "TwnhsE", "TwoFmCon"] | None = Field(
        default=None, description="Type of dwelling; imputed if missing."
    )
    House_Style: (
        Literal[
            "One_Story",
            "One_and_Half_Fin",
            "One_and_Half_Unf",
            "SFoyer",
            "SLvl",
            "Two_Story",
            "Two_and_Half_Fin",
            "Two_and_Half_Unf",
        ]
        | None
    ) = Field(default=None, description="Style of dwelling; imputed if missing.")
    Overall_Cond: (
        Literal[
            "Above_Average", "Average", "Below_Average", "Excellent", "Fair", "Good", "Poor", "Very_Good", "Very_Poor"
        ]
        | None
    ) = Field(default=None, description="Overall condition rating; imputed if missing.")
    Roof_Style: Literal["Flat", "Gable", "Gambrel", "Hip", "Mansard", "Shed"] | None = Field(
        default=None, description="Roof type; imputed if missing."
    )
    Roof_Matl: Literal["ClyTile", "CompShg", "Membran", "Metal", "Roll", "Tar&Grv", "WdShake", "WdShngl"] | None = (
        Field(default=None, description="Roof material; imputed if missing.")
    )
    Exterior_1st: (
        Literal[
            "AsbShng",
            "AsphShn",
            "BrkComm",
            "BrkFace",
            "CBlock",
            "CemntBd",
            "HdBoard",
            "ImStucc",
            "MetalSd",
            "Plywood",
            "PreCast",
            "Stone",
            "Stucco",
            "VinylSd",
            "Wd Sdng",
            "WdShing",
        ]
        | None
    ) = Field(default=None, description="Exterior covering; imputed if missing.")
    Exterior_2nd: (
        Literal[
            "AsbShng",
            "AsphShn",
            "Brk Cmn",
            "BrkFace",
            "CBlock",
            "CmentBd",
            "HdBoard",
            "ImStucc",
            "MetalSd",
            "Other",
            "Plywood",
            "PreCast",
            "Stone",
            "Stucco",
            "VinylSd",
            "Wd Sdng",
            "Wd Shng",
        ]
        | None
    ) = Field(default=None, description="Second exterior covering; imputed if missing.")
    Mas_Vnr_Type: Literal["BrkCmn", "BrkFace", "CBlock", "None", "Stone"] | None = Field(
        default=None, description="Masonry veneer type; imputed if missing."
    )
    Exter_Cond: Literal["Excellent", "Fair", "Good", "Poor", "Typical"] | None = Field(
        default=None, description="Condition of the exterior material; imputed if missing."
    )
    Foundation: Literal["BrkTil", "CBlock", "PConc", "Slab", "Stone", "Wood"] | None = Field(
        default=None, description="Foundation type; imputed if missing."
    )
    Bsmt_Cond: Literal["Excellent", "Fair", "Good", "No_Basement", "Poor", "Typical"] | None = Field(
        default=None, description="Basement condition; imputed if missing."
    )
    Bsmt_Exposure: Literal["Av", "Gd", "Mn", "No", "No_Basement"] | None = Field(
        default=None, description="Walkout or garden-level basement walls; imputed if missing."
    )
    BsmtFin_Type_1: Literal["ALQ", "BLQ", "GLQ", "LwQ", "No_Basement", "Rec", "Unf"] | None = Field(
        default=None, description="Quality of the basement finished area; imputed if missing."
    )
    BsmtFin_Type_2: Literal["ALQ", "BLQ", "GLQ", "LwQ", "No_Basement", "Rec", "Unf"] | None = Field(
        default=None, description="Quality of a second finished basement area; imputed if missing."
    )
    Heating: Literal["Floor", "GasA", "GasW", "Grav", "OthW", "Wall"] | None = Field(
        default=None, description="Heating type; imputed if missing."
    )
    Heating_QC: Literal["Excellent", "Fair", "Good", "Poor", "Typical"] | None = Field(
        default=None, description="Heating quality and condition; imputed if missing."
    )
    Central_Air: Literal["N", "Y"] | None = Field(
        default=None, description="Central air conditioning (Y/N); imputed if missing."
    )
    Electrical: Literal["FuseA", "FuseF", "FuseP", "Mix", "SBrkr", "Unknown"] | None = Field(
        default=None, description="Electrical system; imputed if missing."
    )
    Functional: Literal["Maj1", "Maj2", "Min1", "Min2", "Mod", "Sal", "Sev", "Typ"] | None = Field(
        default=None, description="Home functionality; imputed if missing."
    )
    Garage_Type: (
        Literal["Attchd", "Basment", "BuiltIn", "CarPort", "Detchd", "More_Than_Two_Types", "No_Garage"] | None
    ) = Field(default=None, description="Garage location; imputed if missing.")
    Garage_Finish: Literal["Fin", "No_Garage", "RFn", "Unf"] | None = Field(
        default=None, description="Interior finish of the garage; imputed if missing."
    )
    Garage_Cond: Literal["Excellent", "Fair", "Good", "No_Garage", "Poor", "Typical"] | None = Field(
        default=None, description="Garage condition; imputed if missing."
    )
    Paved_Drive: Literal["Dirt_Gravel", "Partial_Pavement", "Paved"] | None = Field(
        default=None, description="Paved driveway; imputed if missing."
    )
    Pool_QC: Literal["Excellent", "Fair", "Good", "No_Pool", "Typical"] | None = Field(
        default=None, description="Pool quality; imputed if missing."
    )
    Fence: Literal["Good_Privacy", "Good_Wood", "Minimum_Privacy", "Minimum_Wood_Wire", "No_Fence"] | None = Field(
        default=None, description="Fence quality; imputed if missing."
    )
    Misc_Feature: Literal["Elev", "Gar2", "None", "Othr", "Shed", "TenC"] | None = Field(
        default=None, description="Miscellaneous feature; imputed if missing."
    )
    Sale_Type: Literal["COD", "CWD", "Con", "ConLD", "ConLI", "ConLw", "New", "Oth", "VWD", "WD"] | None = Field(
        default=None, description="Type of sale; imputed if missing."
    )
    Sale_Condition: Literal["Abnorml", "AdjLand", "Alloca", "Family", "Normal", "Partial"] | None = Field(
        default=None, description="Condition of sale; imputed if missing."
    )


NUMERIC = [name for name, field in Item.model_fields.items() if field.annotation in (float, float | None)]


class Answer(BaseModel):
    """One answer: the predicted value and its conformal interval."""

    prediction: float = Field(description="Predicted target value.")
    interval: list[float] = Field(min_length=2, max_length=2, description="[low, high] prediction interval.")
    interval_coverage: float = Field(description="Share of held-out values the interval covered (target).")
    currency: str = Field(description="Unit of the prediction.")
