# embed.cmake: write the server catalogue (policies/servers/*.yaml) into a C
# source as strings, as policies/embed.cmake does for the presets.
# Invoked as: cmake -DOUT=file.c -DDIR=policies/servers -P embed.cmake
file(GLOB files "${DIR}/*.yaml")
list(SORT files)
set(body "/* Generated from policies/servers/ by mcp/embed.cmake; do not edit. */\n#include \"catalogue.h\"\n\n")
set(table "")
foreach(f ${files})
  get_filename_component(name "${f}" NAME_WE)
  string(MAKE_C_IDENTIFIER "${name}" id)
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " hex "${hex}")
  string(APPEND body "static const char server_${id}[] = { ${hex}0x00 };\n")
  string(APPEND table "\t{ \"${name}\", server_${id} },\n")
endforeach()
string(APPEND body "\nconst struct mcp_catalogue_entry mcp_catalogue[] = {\n${table}\t{ 0, 0 },\n};\n")
file(WRITE "${OUT}.tmp" "${body}")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
