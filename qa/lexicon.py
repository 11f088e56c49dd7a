"""Vietnamese word lists the span extractor recognises answers by: approximators, multipliers,
units, organisation heads, titles, place words, surnames, particles, number
words. Data only."""

APPROXIMATORS = ("gần như", "xấp xỉ", "khoảng", "trên", "dưới", "gần", "hơn", "ngót", "chừng")
MULTIPLIERS = ("nghìn tỷ", "nghìn", "ngàn", "triệu", "tỷ", "tỉ", "vạn", "trăm")
UNITS = (
    "đồng", "usd", "đô la", "euro", "tấn", "tạ", "kg", "ha", "hécta", "héc-ta", "km2", "km²",
    "km", "m2", "m²", "m3", "m³", "mét", "lít", "người", "hộ", "lượt", "con", "cái", "chiếc",
    "đảng viên", "tổ chức đảng", "doanh nghiệp", "htx", "hợp tác xã", "xã", "thôn", "bản",
    "công trình", "dự án", "trường", "lớp", "học sinh", "phòng", "giường", "căn", "ngôi nhà",
    "nhà", "lao động", "việc làm", "tuổi", "lần", "điểm", "giây", "phút", "giờ", "ngày", "tuần",
    "tháng", "năm", "thế kỷ", "dặm", "dặm vuông", "yard", "feet", "bàn", "trận", "cây số",
    "chỉ tiêu", "nhiệm vụ", "cơ sở", "đơn vị", "tập thể", "cá nhân", "hồ sơ", "vụ", "đối tượng",
    "sản phẩm", "mô hình", "gia đình", "hội viên", "đoàn viên", "thành viên", "cán bộ",
    "km vuông", "mét vuông", "°c", "độ c", "độ", "mm", "cm", "inch", "ft", "phần trăm",
    "đồng chí", "đại biểu", "xã viên", "tổ chức cơ sở đảng", "chi bộ", "nhà ở",
)
ORG_HEADS = ("đại học", "cao đẳng", "học viện", "bệnh viện", "trung tâm", "công ty", "ngân hàng",
             "viện", "trường", "tập đoàn", "tổng công ty", "nhà máy", "khu công nghiệp")
TITLES = ("đồng chí", "đ/c", "ông", "bà", "anh", "chị", "thầy", "cô", "cụ", "bác", "chú",
          "ngài", "tiến sĩ", "giáo sư", "bác sĩ", "thượng tướng", "trung tướng", "thiếu tướng",
          "đại tá", "thượng tá", "trung tá", "thiếu tá", "nhà báo", "nghệ sĩ")
PLACE_WORDS = ("thị trấn", "thị xã", "thành phố", "tp.", "tp", "xã", "huyện", "tỉnh", "thôn",
               "phường", "quận", "bản", "làng", "xóm", "khu", "ấp", "sông", "núi", "đảo", "vùng",
               "miền", "nước", "thủ đô", "châu")
SURNAMES = frozenset(
    [
        "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi", "đỗ",
        "hồ", "ngô", "dương", "lý", "lương", "đinh", "trịnh", "đào", "mai", "cao", "lâm", "hà",
        "tô", "chu", "triệu", "đoàn", "vi", "lục", "nông", "hứa", "tạ", "thân", "la", "lò",
        "quách", "mạc", "văn", "tăng", "kiều", "khổng", "lã", "lữ", "thái", "từ", "giáp", "hoàng",
        "lành", "lăng", "mông", "sầm", "tống", "âu"
    ]
)
NOT_NAME_STARTS = frozenset(
    [
        "ban", "bí", "phó", "chủ", "trưởng", "giám", "thường", "tỉnh", "huyện", "xã", "ủy", "đảng",
        "hội", "ngày", "tháng", "năm", "đoàn", "chiều", "sáng", "tối", "trưa", "sở", "phòng",
        "trung", "nhà", "nghị", "đại", "mặt", "công", "quốc", "chính", "bộ", "cục", "tổng", "viện",
        "trường", "thủ", "kỳ", "khóa", "lần", "theo", "trong", "đồng", "các", "những", "tại",
        "với", "về", "từ", "sau", "trước", "khi", "đến", "cùng", "thực", "kế", "chương", "báo",
        "ảnh", "tin", "bài", "thông"
    ]
)
NAME_PARTICLES = frozenset({"de", "van", "von", "der", "da", "del", "du", "di", "bin", "ibn",
                            "al", "le", "dos"})
NUMBER_WORDS = ("hai", "ba", "bốn", "sáu", "bảy", "tám", "chín", "mười", "mươi", "trăm",
                "nghìn", "ngàn", "triệu", "tỷ", "lăm", "mốt", "tư")
